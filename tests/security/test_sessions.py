"""Abuse limits: logout that really ends a token, staff idle timeout, upload rate limits."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from mtb import timeutil
from mtb.identity.models import StaffRole
from mtb.web.core import SESSION_COOKIE
from tests.applications.helpers import BEIJING_SELF, create, upload
from tests.apps import app_with
from tests.conftest import Clock
from tests.factories import Seed
from tests.web.helpers import as_person, as_staff, post_form


async def test_api_logout_ends_the_token(client: httpx.AsyncClient, seed: Seed) -> None:
    headers = await seed.login(await seed.person("zhang"))
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    after = await client.get("/api/v1/me", headers=headers)
    assert after.status_code == 401 and after.json()["error"] == "token_revoked"


async def test_logout_ends_the_token_on_application_routes(client: httpx.AsyncClient, seed: Seed) -> None:
    """The application routes load the asker and check revocation in one statement
    (applications/auth.py): a logged-out token reads and writes nothing there either."""
    await seed.catalogs()
    person = await seed.person("zhang")
    headers = await seed.login(person)
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    for response in (await client.get("/api/v1/applications", headers=headers),
                     await client.post("/api/v1/applications", headers=headers, json=BEIJING_SELF),
                     await client.post(f"/api/v1/applications/{app_id}/withdraw", headers=headers),
                     await upload(client, headers, app_id, "diagnosis_certificate")):
        assert response.status_code == 401 and response.json()["error"] == "token_revoked"
    fresh = await seed.login(person)
    listed = (await client.get("/api/v1/applications", headers=fresh)).json()
    assert [a["id"] for a in listed] == [app_id] and listed[0]["status"] == "draft"


async def test_page_logout_ends_the_session_everywhere(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    await as_person(seed, await seed.person("zhang"))
    token = client.cookies.get(SESSION_COOKIE)
    assert (await client.get("/filings")).status_code == 200
    assert (await post_form(client, "/logout")).status_code == 303
    client.cookies.set(SESSION_COOKIE, token or "", domain="mtb.test")  # a copy kept elsewhere
    assert (await client.get("/filings")).headers["location"].startswith("/login")
    api = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401


async def test_staff_session_ends_when_idle_and_is_renewed_in_use(client: httpx.AsyncClient, seed: Seed,
                                                                  clock: Clock) -> None:
    clock.set("2027-03-01", hour=9)
    await seed.catalogs()
    await as_staff(seed, await seed.staff("bj_reviewer", StaffRole.reviewer))
    first = client.cookies.get(SESSION_COOKIE)
    assert (await client.get("/staff")).status_code == 200
    now = timeutil.utcnow()
    timeutil.freeze(now + timedelta(minutes=20))  # in use: the page renews the session
    renewed = await client.get("/staff")
    assert renewed.status_code == 200 and SESSION_COOKIE in renewed.headers.get("set-cookie", "")
    assert client.cookies.get(SESSION_COOKIE) != first
    timeutil.freeze(now + timedelta(minutes=45))  # 25 idle minutes after the renewal: still in
    assert (await client.get("/staff")).status_code == 200
    timeutil.freeze(now + timedelta(minutes=120))  # idle past the timeout: out
    assert (await client.get("/staff")).headers["location"].startswith("/staff/login")


async def test_uploads_are_rate_limited(seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_with(monkeypatch, MTB_UPLOADS_PER_MINUTE="2") as s:
        await s.catalogs()
        headers = await s.login(await s.person("zhang"))
        app_id = (await create(s.client, headers, **BEIJING_SELF)).json()["id"]
        for _ in range(2):
            assert (await upload(s.client, headers, app_id, "supplementary")).status_code == 201
        third = await upload(s.client, headers, app_id, "supplementary")
        assert third.status_code == 429 and third.json()["error"] == "too_many_uploads"
        assert int(third.headers["Retry-After"]) <= 60
