"""Real-name login, staff login, throttling of repeated failures, and tokens."""

from __future__ import annotations

from datetime import timedelta

import httpx
import jwt
import pytest

from mtb.identity import throttle
from mtb.identity.models import StaffRole
from mtb.settings import Settings
from mtb.timeutil import utcnow
from tests.factories import STAFF_PASSWORD, Seed

REAL_NAME = "/api/v1/auth/real-name"
STAFF = "/api/v1/auth/staff"


async def test_real_name_login_returns_token_and_masked_person(client: httpx.AsyncClient, seed: Seed) -> None:
    zhang = await seed.person("zhang")
    response = await client.post(REAL_NAME, json=zhang.credentials())
    assert response.status_code == 200
    data = response.json()
    assert data["token_type"] == "bearer" and data["expires_in"] == 3600
    assert data["person"]["id_number_masked"] == "**************9010"
    assert zhang.id_number not in response.text
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {data['access_token']}"})
    assert me.status_code == 200
    assert me.json()["person"]["name"] == "张三" and me.json()["person"]["region_name"] == "北京市"


async def test_id_number_is_accepted_with_lowercase_x_and_spaces(client: httpx.AsyncClient, seed: Seed) -> None:
    li = await seed.person("li")
    assert li.id_number.endswith("X")
    creds = li.credentials() | {"id_number": f" {li.id_number.lower()} "}
    assert (await client.post(REAL_NAME, json=creds)).status_code == 200


async def test_wrong_name_card_or_id_never_says_which(client: httpx.AsyncClient, seed: Seed) -> None:
    zhang = await seed.person("zhang")
    li = await seed.person("li")
    attempts = [
        zhang.credentials() | {"name": "张四"},
        zhang.credentials() | {"card_number": "BJ9999999999"},
        zhang.credentials() | {"id_number": li.id_number},   # valid and registered, but someone else's
        zhang.credentials() | {"id_number": "110105198001019011"},  # bad check digit
    ]
    bodies = []
    for creds in attempts:
        response = await client.post(REAL_NAME, json=creds)
        assert response.status_code == 401
        bodies.append(response.json())
    # The same answer whichever was wrong; only the attempts left differ (each try counts on its client).
    assert all({k: v for k, v in b.items() if k != "remaining_attempts"} == {
        "error": "invalid_credentials", "detail": f"姓名、身份证号或医保卡号不正确，请核对后重试（还可尝试 {b['remaining_attempts']} 次）"}
        for b in bodies)


async def test_repeated_failures_for_one_id_are_429_for_a_while(
        client: httpx.AsyncClient, seed: Seed, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    zhang = await seed.person("zhang")
    li = await seed.person("li")
    wrong = zhang.credentials() | {"card_number": "WRONG0000"}
    for _ in range(settings.login_max_failures):
        assert (await client.post(REAL_NAME, json=wrong)).status_code == 401
    blocked = await client.post(REAL_NAME, json=zhang.credentials())  # even the right credentials
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "too_many_attempts"
    assert 0 < int(blocked.headers["Retry-After"]) <= settings.login_block_seconds
    # Another person from the same client is not blocked by zhang's counter.
    assert (await client.post(REAL_NAME, json=li.credentials())).status_code == 200
    # After the block has run out, the right credentials work again.
    later = utcnow() + timedelta(seconds=settings.login_block_seconds + 1)
    monkeypatch.setattr(throttle, "utcnow", lambda: later)
    assert (await client.post(REAL_NAME, json=zhang.credentials())).status_code == 200


async def test_success_resets_the_counter_for_that_id(client: httpx.AsyncClient, seed: Seed,
                                                     settings: Settings) -> None:
    zhang = await seed.person("zhang")
    wrong = zhang.credentials() | {"name": "错"}
    for _ in range(settings.login_max_failures - 1):
        assert (await client.post(REAL_NAME, json=wrong)).status_code == 401
    assert (await client.post(REAL_NAME, json=zhang.credentials())).status_code == 200
    for _ in range(settings.login_max_failures - 1):
        assert (await client.post(REAL_NAME, json=wrong)).status_code == 401
    assert (await client.post(REAL_NAME, json=zhang.credentials())).status_code == 200


async def test_one_client_guessing_many_ids_is_429(client: httpx.AsyncClient, seed: Seed,
                                                   settings: Settings) -> None:
    zhang = await seed.person("zhang")
    for i in range(settings.login_max_failures_per_client):
        creds = zhang.credentials() | {"id_number": f"11010519800101{i:04d}"}
        assert (await client.post(REAL_NAME, json=creds)).status_code == 401
    response = await client.post(REAL_NAME, json=zhang.credentials())
    assert response.status_code == 429
    # The block is per client: the same person from another address gets in.
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=client._transport.app,  # type: ignore[attr-defined]
                                                             client=("203.0.113.9", 1)),
                              base_url="http://mtb.test")
    async with other:
        assert (await other.post(REAL_NAME, json=zhang.credentials())).status_code == 200


async def test_staff_login_and_failures(client: httpx.AsyncClient, seed: Seed, settings: Settings) -> None:
    staff = await seed.staff("bj_reviewer", StaffRole.reviewer)
    ok = await client.post(STAFF, json={"username": "bj_reviewer", "password": STAFF_PASSWORD})
    assert ok.status_code == 200
    assert ok.json()["staff"] == {"id": str(staff.id), "username": "bj_reviewer", "role": "reviewer",
                                  "region_code": "110000"}
    for body in ({"username": "bj_reviewer", "password": "nope"}, {"username": "ghost", "password": "x"}):
        response = await client.post(STAFF, json=body)
        assert response.status_code == 401
        left = response.json()["remaining_attempts"]
        assert response.json() == {"error": "invalid_credentials", "detail": f"用户名或密码不正确（还可尝试 {left} 次）",
                                   "remaining_attempts": left}
    for _ in range(settings.login_max_failures - 1):
        await client.post(STAFF, json={"username": "bj_reviewer", "password": "nope"})
    blocked = await client.post(STAFF, json={"username": "bj_reviewer", "password": STAFF_PASSWORD})
    assert blocked.status_code == 429


async def test_staff_token_identifies_role_and_region(client: httpx.AsyncClient, seed: Seed) -> None:
    staff = await seed.staff("snj_admin", StaffRole.admin, "429021")
    headers = await seed.staff_login(staff)
    me = (await client.get("/api/v1/me", headers=headers)).json()
    assert me["kind"] == "staff" and me["staff"]["role"] == "admin" and me["staff"]["region_code"] == "429021"


async def test_missing_expired_or_forged_tokens_are_401(client: httpx.AsyncClient, seed: Seed,
                                                       settings: Settings) -> None:
    zhang = await seed.person("zhang")
    assert (await client.get("/api/v1/me")).json()["error"] == "not_authenticated"
    now = utcnow()
    claims = {"sub": str(zhang.row.id), "kind": "person", "iat": now - timedelta(hours=2),
              "exp": now - timedelta(hours=1)}
    expired = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    forged = jwt.encode(claims | {"exp": now + timedelta(hours=1)}, "not-the-key-" * 4, algorithm="HS256")
    for token in (expired, forged, "garbage"):
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["error"] == "token_invalid"


async def test_deactivated_staff_token_stops_working(client: httpx.AsyncClient, seed: Seed) -> None:
    staff = await seed.staff("bj_window", StaffRole.window)
    headers = await seed.staff_login(staff)
    async with seed.sessionmaker() as s, s.begin():
        row = await s.get(type(staff), staff.id)
        assert row is not None
        row.active = False
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
