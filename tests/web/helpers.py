"""Page tests over httpx: log in through the session cookie and post forms with the CSRF token."""

from __future__ import annotations

import re
from typing import Any

import httpx

from mtb.web.core import CSRF_COOKIE, SESSION_COOKIE
from tests.factories import Person, Seed


async def csrf(client: httpx.AsyncClient, path: str = "/login") -> str:
    """Visit a page so the CSRF cookie is set; return its token (as the page's forms carry it)."""
    page = await client.get(path)
    token = client.cookies.get(CSRF_COOKIE)
    if token is None:
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, page.text[:500]
        token = match.group(1)
    return token


async def as_person(seed: Seed, person: Person) -> None:
    """Give the test client the page session of `person` (same token the login page sets)."""
    headers = await seed.login(person)
    seed.client.cookies.set(SESSION_COOKIE, headers["Authorization"].split()[1], domain="mtb.test")


async def as_staff(seed: Seed, staff: Any) -> None:
    headers = await seed.staff_login(staff)
    seed.client.cookies.set(SESSION_COOKIE, headers["Authorization"].split()[1], domain="mtb.test")


async def post_form(client: httpx.AsyncClient, path: str, data: dict[str, Any] | None = None,
                    files: dict[str, Any] | None = None) -> httpx.Response:
    token = await csrf(client, "/staff/login" if path.startswith("/staff") else "/login")
    return await client.post(path, data={"csrf_token": token, **(data or {})}, files=files)
