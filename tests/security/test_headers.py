"""Issue 16 items 11 and 12: no answer with personal data may be kept by a browser or proxy, and every
answer over HTTPS (directly or from a trusted proxy) carries HSTS.

The property is checked over every GET route of the authorization matrix for every actor (pages, API
JSON, FHIR, CSV, files, errors), plus the login answers and the hospitals' eligibility answer; only the
static assets may be cached.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from mtb.identity import idnumber
from tests.factories import ACTORS as PEOPLE
from tests.factories import Seed

ZHANG_ID = idnumber.with_check_digit(PEOPLE["zhang"][1])
ELIGIBILITY = {"/api/v1/eligibility": {"id_number": ZHANG_ID, "disease_code": "BJ-APLASTIC-ANEMIA",
                                       "hospital_code": "BJ-EX-0001"}}


def no_store(response: httpx.Response) -> bool:
    return "no-store" in response.headers.get("cache-control", "")


async def test_login_answers_errors_and_pages_are_not_stored(client: httpx.AsyncClient, seed: Seed) -> None:
    """Every GET route for every actor is walked in tests/security/test_id_completion.py (one walk for two
    properties); here the answers that walk does not make: logins, refusals, unknown paths."""
    await seed.catalogs()
    await seed.person("zhang")
    zhang = {"name": PEOPLE["zhang"][0], "id_number": ZHANG_ID, "card_number": f"C{ZHANG_ID[-8:]}"}
    answers = [await client.post("/api/v1/auth/real-name", json=zhang),
               await client.post("/api/v1/auth/real-name", json=zhang | {"name": "别人"}),
               await client.post("/api/v1/auth/staff", json={"username": "bj_admin", "password": "x"}),
               await client.post("/login", data={"name": "x"}),
               await client.get("/api/v1/nowhere"), await client.get("/nowhere"), await client.get("/login"),
               await client.get("/api/v1/eligibility", params=ELIGIBILITY["/api/v1/eligibility"])]
    assert answers[0].status_code == 200
    assert [r.request.url.path for r in answers if not no_store(r)] == []
    static = await client.get("/static/mtb.css")
    assert static.status_code == 200 and not no_store(static)


def proxied(app: Any, peer: str) -> httpx.AsyncClient:
    """The app as `mtb serve` runs it (uvicorn's proxy headers, trusting 127.0.0.1), reached from `peer`."""
    wrapped = ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped, client=(peer, 40000)),  # type: ignore[arg-type]
                             base_url="http://mtb.test")


PATHS = ("/api/v1/health", "/api/v1/me", "/api/v1/regions", "/login", "/staff/login", "/static/mtb.css",
         "/api/v1/nowhere", "/nowhere", f"/api/v1/eligibility?id_number={ZHANG_ID}&disease_code=X")


@pytest.mark.parametrize(("peer", "forwarded", "hsts"), [
    ("127.0.0.1", "https", True),    # the TLS proxy says the client came over HTTPS
    ("127.0.0.1", "http", False),    # the proxy's plain port
    ("127.0.0.1", None, False),      # straight to MTB over HTTP
    ("203.0.113.9", "https", False),  # anyone else claiming HTTPS is not believed
])
async def test_hsts_on_every_answer_over_https(app_and_client: tuple[Any, httpx.AsyncClient], peer: str,
                                               forwarded: str | None, hsts: bool) -> None:
    app, _client = app_and_client
    headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}
    async with proxied(app, peer) as client:
        for path in PATHS:
            response = await client.get(path, headers=headers)
            value = response.headers.get("strict-transport-security")
            assert (value is not None) == hsts, (path, response.status_code, value)
            if hsts:
                assert value is not None and "max-age=31536000" in value and "includeSubDomains" in value


async def test_hsts_when_served_over_tls_directly(app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, _client = app_and_client
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://mtb.test") as client:
        for path in PATHS:
            assert "max-age=" in (await client.get(path)).headers.get("strict-transport-security", "")


def test_nginx_example_sends_hsts_once() -> None:
    from pathlib import Path

    conf = (Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf.example").read_text()
    tls_server = conf.split("listen 443", 1)[1].split("server {", 1)[0]
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' in tls_server
    assert "proxy_hide_header Strict-Transport-Security;" in tls_server
