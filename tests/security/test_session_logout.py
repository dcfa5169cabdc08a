"""Issue 16 item 3: logout ends the whole login session, every token issued in it, whether renewed by a
page or not, for staff and applicants; and no token of an ended session can be renewed again.

Variants: the session's tokens are the login token and several renewals (two from the same old token);
logout is done with the oldest or the newest token, through the API or a page; every token is then tried
on each way MTB checks a token (the plain dependency, the application routes' one-statement check, the hot
paths' direct statement, the pages). Another session of the same person stays open.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest

from mtb import timeutil
from mtb.identity.models import StaffRole
from mtb.identity.tokens import Principal, decode_token, issue_token
from mtb.settings import get_settings
from mtb.web.core import SESSION_COOKIE
from tests.applications.helpers import BEIJING_SELF, create
from tests.conftest import Clock
from tests.factories import Seed
from tests.web.helpers import post_form


def sid(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sid"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def page_renewal(client: httpx.AsyncClient, token: str, page: str) -> str | None:
    """Open a page with `token` as the session cookie; the renewed token the page set, if any."""
    client.cookies.set(SESSION_COOKIE, token, domain="mtb.test")
    response = await client.get(page)
    assert response.status_code == 200, response.headers.get("location")
    return session_cookie(response)


def session_cookie(response: httpx.Response) -> str | None:
    for cookie in response.headers.get_list("set-cookie"):
        if cookie.startswith(f"{SESSION_COOKIE}="):
            return cookie.split(";", 1)[0].split("=", 1)[1]
    return None


async def log_out(client: httpx.AsyncClient, token: str, via: str, staff: bool) -> None:
    if via == "api":
        assert (await client.post("/api/v1/auth/logout", headers=bearer(token))).status_code == 204
    else:
        client.cookies.set(SESSION_COOKIE, token, domain="mtb.test")
        assert (await post_form(client, "/staff/logout" if staff else "/logout")).status_code == 303


async def refused_everywhere(client: httpx.AsyncClient, token: str, routes: list[str], page: str) -> None:
    for route in routes:
        response = await client.get(route, headers=bearer(token))
        assert response.status_code == 401 and response.json()["error"] == "token_revoked", (route, response.text)
    client.cookies.set(SESSION_COOKIE, token, domain="mtb.test")
    response = await client.get(page, follow_redirects=False)
    assert response.status_code == 303 and "login" in response.headers["location"]
    assert session_cookie(response) is None  # nothing minted


async def open_everywhere(client: httpx.AsyncClient, token: str, routes: list[str], page: str) -> None:
    for route in routes:
        assert (await client.get(route, headers=bearer(token))).status_code == 200, route
    client.cookies.set(SESSION_COOKIE, token, domain="mtb.test")
    assert (await client.get(page, follow_redirects=False)).status_code == 200


STAFF_ROUTES = ["/api/v1/me", "/api/v1/applications", "/api/v1/review/queue"]


@pytest.mark.parametrize("by", ["oldest", "newest"])
@pytest.mark.parametrize("via", ["api", "page"])
async def test_staff_logout_ends_every_renewed_token(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                                    by: str, via: str) -> None:
    clock.set("2027-03-01", hour=9)
    await seed.catalogs()
    reviewer = await seed.staff("bj_reviewer", StaffRole.reviewer)
    first = (await seed.staff_login(reviewer))["Authorization"].split()[1]
    start = timeutil.utcnow()
    timeutil.freeze(start + timedelta(minutes=16))  # past half the idle timeout: pages renew
    b, c = await page_renewal(client, first, "/staff"), await page_renewal(client, first, "/staff")
    timeutil.freeze(start + timedelta(minutes=32))  # the login token has expired; a renewal of a renewal
    d = await page_renewal(client, b or "", "/staff")
    assert b and c and d and len({first, b, c, d}) == 4
    session = [b, c, d]  # oldest first
    assert len({sid(t) for t in [first, *session]}) == 1
    other_session = (await seed.staff_login(reviewer))["Authorization"].split()[1]
    assert sid(other_session) != sid(first)
    for token in session:
        await open_everywhere(client, token, STAFF_ROUTES, "/staff")

    await log_out(client, session[0] if by == "oldest" else session[-1], via, staff=True)
    for token in session:
        await refused_everywhere(client, token, STAFF_ROUTES, "/staff")
    # A page would renew the older tokens now (under half their lifetime left): they mint nothing.
    timeutil.freeze(start + timedelta(minutes=37))
    for token in (b, c):
        await refused_everywhere(client, token, STAFF_ROUTES, "/staff")
    # Another login session of the same reviewer stays open.
    await open_everywhere(client, other_session, STAFF_ROUTES, "/staff")


@pytest.mark.parametrize("by", ["oldest", "newest"])
@pytest.mark.parametrize("via", ["api", "page"])
async def test_applicant_logout_ends_every_token_of_the_session(client: httpx.AsyncClient, seed: Seed,
                                                                clock: Clock, by: str, via: str) -> None:
    clock.set("2027-03-01", hour=9)
    await seed.catalogs()
    zhang = await seed.person("zhang")
    first = (await seed.login(zhang))["Authorization"].split()[1]
    other_session = (await seed.login(zhang))["Authorization"].split()[1]
    app_id = (await create(client, bearer(first), **BEIJING_SELF)).json()["id"]
    start = timeutil.utcnow()
    session = [first]
    for minutes in (10, 20, 20):  # renewals while in use (the way every renewal issues: same session id)
        timeutil.freeze(start + timedelta(minutes=minutes))
        p = decode_token(session[-1])
        session.append(issue_token(Principal(kind="person", id=p.id, region_code=p.region_code,
                                             session_id=p.session_id))[0])
    routes = ["/api/v1/me", "/api/v1/applications", f"/api/v1/applications/{app_id}/status",
              f"/api/v1/applications/{app_id}"]
    for token in session:
        await open_everywhere(client, token, routes, "/filings")

    await log_out(client, session[0] if by == "oldest" else session[-1], via, staff=False)
    for token in session:
        await refused_everywhere(client, token, routes, "/filings")
    await open_everywhere(client, other_session, routes, "/filings")


async def test_session_stays_ended_until_its_last_token_expires(client: httpx.AsyncClient, seed: Seed,
                                                                clock: Clock) -> None:
    """The revocation outlives every token the session had issued, through the purge job."""
    from mtb.jobs import run_jobs

    clock.set("2027-03-01", hour=9)
    await seed.catalogs()
    zhang = await seed.person("zhang")
    first = (await seed.login(zhang))["Authorization"].split()[1]
    start = timeutil.utcnow()
    timeutil.freeze(start + timedelta(minutes=50))  # a token renewed late in the first one's life
    p = decode_token(first)
    late = issue_token(Principal(kind="person", id=p.id, region_code=p.region_code, session_id=p.session_id))[0]
    await log_out(client, first, "api", staff=False)  # logout with the old token, 10 minutes before it ends
    timeutil.freeze(start + timedelta(minutes=100))  # the old token has expired; the late one has not
    await run_jobs(seed.sessionmaker, get_settings())
    response = await client.get("/api/v1/me", headers=bearer(late))
    assert response.status_code == 401 and response.json()["error"] == "token_revoked"


async def test_a_token_from_before_session_ids_is_its_own_session(client: httpx.AsyncClient, seed: Seed) -> None:
    zhang = await seed.person("zhang")
    current = (await seed.login(zhang))["Authorization"].split()[1]
    claims = jwt.decode(current, options={"verify_signature": False})
    del claims["sid"]
    legacy = jwt.encode(claims, get_settings().secret_key, algorithm="HS256")
    assert (await client.get("/api/v1/me", headers=bearer(legacy))).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=bearer(legacy))).status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(legacy))).json()["error"] == "token_revoked"
    assert (await client.get("/api/v1/me", headers=bearer(current))).status_code == 200
