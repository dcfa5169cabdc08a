"""Who is asking, settled in one place (mtb/identity/asker.py) for the API's dependencies and the pages, and
in the direct reader's own statement for the staff's hot reads (mtb/direct/staff.py): the two give the
same answer (the staff member, or the same refusal code) for every kind of principal: people and staff of
every role and region, a revoked session, a deactivated account, one that is gone, each asked for with
every set of admitted roles. And the pages' dependency lets in exactly whom the API lets in."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from mtb.direct.staff import staff_of
from mtb.errors import MTBError
from mtb.identity.asker import load_asker, load_person, load_staff
from mtb.identity.models import RevokedToken, StaffRole, StaffUser
from mtb.identity.tokens import Principal, issue_token, new_session_id
from mtb.timeutil import utcnow
from tests.factories import SHENNONGJIA, Seed

ROLE_SETS: list[tuple[StaffRole, ...]] = [(), (StaffRole.reviewer,), (StaffRole.window,),
                                          (StaffRole.reviewer, StaffRole.admin), tuple(StaffRole)]


async def outcome(call: Any) -> Any:
    try:
        found = await call
    except MTBError as exc:
        return ("refused", exc.status_code, exc.code)
    return ("admitted", found.id)


async def principals(seed: Seed) -> dict[str, Principal]:
    zhang_row = (await seed.person("zhang")).row
    out: dict[str, Principal] = {}
    out["person"] = Principal(kind="person", id=zhang_row.id, session_id=new_session_id())
    for role in StaffRole:
        for region in ("110000", SHENNONGJIA):
            staff = await seed.staff(f"{role.value}_{region}", role, region)
            out[f"staff {role.value} {region}"] = Principal(kind="staff", id=staff.id, role=staff.role,
                                                            region_code=staff.region_code,
                                                            session_id=new_session_id())
    inactive = await seed.staff("inactive", StaffRole.reviewer)
    revoked = await seed.staff("revoked", StaffRole.reviewer)
    async with seed.sessionmaker() as s, s.begin():
        await s.execute(update(StaffUser).where(StaffUser.id == inactive.id).values(active=False))
        revoked_session = new_session_id()
        s.add(RevokedToken(session_id=revoked_session, expires_at=utcnow()))
        revoked_person_session = new_session_id()
        s.add(RevokedToken(session_id=revoked_person_session, expires_at=utcnow()))
    out["staff inactive"] = Principal(kind="staff", id=inactive.id, role="reviewer", session_id=new_session_id())
    out["staff revoked"] = Principal(kind="staff", id=revoked.id, role="reviewer", session_id=revoked_session)
    out["staff gone"] = Principal(kind="staff", id=uuid.uuid4(), role="reviewer", session_id=new_session_id())
    out["staff gone and revoked"] = Principal(kind="staff", id=uuid.uuid4(), role="reviewer",
                                              session_id=revoked_session)
    out["person revoked"] = Principal(kind="person", id=zhang_row.id, session_id=revoked_person_session)
    out["person gone"] = Principal(kind="person", id=uuid.uuid4(), session_id=new_session_id())
    return out


async def test_the_direct_staff_check_answers_as_the_one_asker(
        client: httpx.AsyncClient, seed: Seed, app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    app = app_and_client[0]
    await seed.catalogs()
    compared = 0
    for name, principal in (await principals(seed)).items():
        for roles in ROLE_SETS:
            async with seed.sessionmaker() as s:
                session_says = await outcome(load_staff(s, principal, *roles))
            direct_says = await outcome(staff_of(app.state.direct, principal, *roles))
            assert direct_says == session_says, (name, roles)
            compared += 1
    assert compared == 13 * len(ROLE_SETS)


@pytest.mark.parametrize("name,expected", [
    ("person", ("admitted",)), ("person revoked", ("refused", 401, "token_revoked")),
    ("person gone", ("refused", 401, "token_invalid")),
    ("staff reviewer 110000", ("refused", 403, "forbidden_role")),
    ("staff revoked", ("refused", 401, "token_revoked")),
])
async def test_a_person_route_and_the_asker(client: httpx.AsyncClient, seed: Seed, name: str,
                                            expected: tuple[Any, ...]) -> None:
    await seed.catalogs()
    principal = (await principals(seed))[name]
    async with seed.sessionmaker() as s:
        says = await outcome(load_person(s, principal))
        either = await outcome(load_asker(s, principal))
    assert says[:len(expected)] == expected if expected != ("admitted",) else says[0] == "admitted"
    if expected[0] == "admitted" or name.startswith("staff reviewer"):
        assert either[0] == "admitted"  # the asker exists; only the route's kind refuses
    else:
        assert either == says


async def test_the_status_route_answers_as_the_person_routes(client: httpx.AsyncClient, seed: Seed) -> None:
    """The hot /status route settles the kind before its statement: a revoked staff token still hears 401
    token_revoked, as on every person route, before the role's 403."""
    await seed.catalogs()
    for name, principal in (await principals(seed)).items():
        auth = {"Authorization": f"Bearer {issue_token(principal)[0]}"}
        status = await client.get(f"/api/v1/applications/{uuid.uuid4()}/status", headers=auth)
        person_route = await client.get("/api/v1/notifications", headers=auth)
        if person_route.status_code == 200:
            assert status.status_code == 404, name
        else:
            assert (status.status_code, status.json()["error"]) == (
                person_route.status_code, person_route.json()["error"]), name
