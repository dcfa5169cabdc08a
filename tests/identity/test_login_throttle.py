"""Issue 16 item 8: knowing someone's ID number must not let a stranger lock them out, nor block a window
clerk entering a paper application for them; a failed login says how many attempts remain.

Variants: the stranger guesses through the login API, the login page, or by naming the person as an
agent's beneficiary; from one address or from many (past the per-account limit); the owner then logs in
from their own device (API and page); clerks enter through the page and the API, from the very address
the stranger used (an office behind one address); and the remaining attempts count down on every door.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from mtb.identity.models import StaffRole
from mtb.settings import Settings
from tests.applications.helpers import BEIJING_SELF, create
from tests.apps import app_with
from tests.factories import STAFF_PASSWORD, Person, Seed
from tests.web.helpers import post_form

REAL_NAME = "/api/v1/auth/real-name"
STRANGER, OWNER = "203.0.113.66", "198.51.100.20"


def client_at(app: Any, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                             base_url="http://mtb.test")


async def stranger_guesses(app: Any, seed: Seed, victim: Person, door: str, address: str, times: int) -> None:
    async with client_at(app, address) as stranger:
        agent = await seed.login(await seed.person(name="陌生人")) if door == "agent" else {}
        for i in range(times):
            guess = victim.credentials() | {"card_number": f"GUESS{i:05d}"}
            if door == "api":
                status = (await stranger.post(REAL_NAME, json=guess)).status_code
            elif door == "page":
                status = (await post_form(stranger, "/login", guess)).status_code
            else:
                status = (await create(stranger, agent, **BEIJING_SELF,
                                       beneficiary=guess | {"relation": "parent"})).status_code
            assert status in (401, 422, 429)


@pytest.mark.parametrize("door", ["api", "page", "agent"])
async def test_a_stranger_cannot_lock_the_owner_out(app_and_client: tuple[Any, httpx.AsyncClient], seed: Seed,
                                                    settings: Settings, door: str) -> None:
    app, _client = app_and_client
    await seed.catalogs()
    zhang = await seed.person("zhang")
    await stranger_guesses(app, seed, zhang, door, STRANGER, settings.login_max_failures + 3)
    async with client_at(app, STRANGER) as stranger:  # the stranger is blocked for this number
        blocked = await stranger.post(REAL_NAME, json=zhang.credentials())
        assert blocked.status_code == 429 and blocked.json()["error"] == "too_many_attempts"
        assert int(blocked.headers["Retry-After"]) > 0
    async with client_at(app, OWNER) as owner:  # the owner, from their own phone, is not
        assert (await owner.post(REAL_NAME, json=zhang.credentials())).status_code == 200
        page = await post_form(owner, "/login", zhang.credentials())
        assert page.status_code == 303


async def test_many_addresses_block_the_number_but_never_a_window_clerk(seed: Seed,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_with(monkeypatch, MTB_LOGIN_MAX_FAILURES_PER_ACCOUNT="8") as s:
        app = s.client._transport.app  # type: ignore[attr-defined]
        await s.catalogs()
        zhang = await s.person("zhang")
        for k in range(3):  # 3 addresses x 3 guesses: past the per-account limit of 8
            await stranger_guesses(app, s, zhang, "api", f"203.0.113.{10 + k}", 3)
        async with client_at(app, OWNER) as owner:  # spread-out guessing does block the number itself
            assert (await owner.post(REAL_NAME, json=zhang.credentials())).status_code == 429
        clerk = await s.staff("bj_window", StaffRole.window)
        async with client_at(app, "203.0.113.10") as office:  # the office shares the strangers' address
            response = await office.post("/api/v1/auth/staff",
                                         json={"username": clerk.username, "password": STAFF_PASSWORD})
            headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
            entry = await create(office, headers, **BEIJING_SELF | {"channel": "window"},
                                 beneficiary=zhang.credentials() | {"relation": "other"})
            assert entry.status_code == 201, entry.text
            office.cookies.set("mtb_session", response.json()["access_token"], domain="mtb.test")
            page = await post_form(office, "/staff/window", {
                "b_name": zhang.name, "b_id_number": zhang.id_number, "b_card_number": zhang.card_number,
                "disease_code": "BJ-APLASTIC-ANEMIA", "hospital_code": "BJ-EX-0001"})
            assert page.status_code == 303, page.text[:300]


async def test_a_clerks_own_mistakes_block_only_that_clerk(app_and_client: tuple[Any, httpx.AsyncClient],
                                                           seed: Seed, settings: Settings) -> None:
    _app, client = app_and_client
    await seed.catalogs()
    zhang = await seed.person("zhang")
    clerks = [await seed.staff_login(await seed.staff(f"bj_window{i}", StaffRole.window)) for i in (1, 2)]
    wrong = zhang.credentials() | {"card_number": "TYPO00000", "relation": "other"}
    window = BEIJING_SELF | {"channel": "window"}
    remaining = []
    for _ in range(settings.login_max_failures):
        response = await create(client, clerks[0], **window, beneficiary=wrong)
        assert response.status_code == 422
        remaining.append(response.json()["remaining_attempts"])
    assert remaining == list(range(settings.login_max_failures - 1, -1, -1))
    refused = await create(client, clerks[0], **window, beneficiary=zhang.credentials() | {"relation": "other"})
    assert refused.status_code == 429
    right = await create(client, clerks[1], **window, beneficiary=zhang.credentials() | {"relation": "other"})
    assert right.status_code == 201
    assert (await client.post(REAL_NAME, json=zhang.credentials())).status_code == 200  # nor the owner


@pytest.mark.parametrize("door", ["api", "page", "staff_api", "staff_page"])
async def test_a_failed_login_says_how_many_attempts_remain(client: httpx.AsyncClient, seed: Seed,
                                                           settings: Settings, door: str) -> None:
    zhang = await seed.person("zhang")
    await seed.staff("bj_reviewer", StaffRole.reviewer)
    told: list[int] = []
    for i in range(settings.login_max_failures):
        if door == "api":
            body = (await client.post(REAL_NAME, json=zhang.credentials() | {"name": f"错{i}"})).json()
            told.append(body["remaining_attempts"])
            assert re.search(rf"还可尝试 {body['remaining_attempts']} 次|分钟后再试", body["detail"])
        elif door == "staff_api":
            body = (await client.post("/api/v1/auth/staff", json={"username": "bj_reviewer", "password": "x"})).json()
            told.append(body["remaining_attempts"])
        else:
            path = "/login" if door == "page" else "/staff/login"
            data = zhang.credentials() | {"name": f"错{i}"} if door == "page" else {"username": "bj_reviewer",
                                                                                    "password": "x"}
            page = await post_form(client, path, data)
            found = re.search(r"还可尝试 (\d+) 次", page.text)
            told.append(int(found.group(1)) if found else 0)
            if not found:
                assert "分钟后再试" in page.text
    assert told == list(range(settings.login_max_failures - 1, -1, -1))
