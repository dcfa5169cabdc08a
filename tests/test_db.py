"""The request's session: one commit after the route, a rollback on any error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from mtb.db.engine import get_session
from mtb.identity.models import StaffRole, StaffUser
from mtb.identity.service import create_staff
from tests.factories import Seed


def fake_request(seed: Seed) -> SimpleNamespace:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(sessionmaker=seed.sessionmaker)))


async def count_staff(seed: Seed) -> int:
    async with seed.sessionmaker() as s:
        return (await s.execute(select(func.count()).select_from(StaffUser))).scalar_one()


async def test_error_rolls_back_everything(seed: Seed) -> None:
    sessions = get_session(fake_request(seed))  # type: ignore[arg-type]
    session = await anext(sessions)
    await create_staff(session, username="x", password="", role=StaffRole.admin, region_code="110000",
                       password_hash="h")
    with pytest.raises(RuntimeError):
        await sessions.athrow(RuntimeError("route failed"))
    assert await count_staff(seed) == 0


async def test_success_commits(seed: Seed) -> None:
    sessions = get_session(fake_request(seed))  # type: ignore[arg-type]
    session = await anext(sessions)
    await create_staff(session, username="y", password="", role=StaffRole.admin, region_code="110000",
                       password_hash="h")
    with pytest.raises(StopAsyncIteration):
        await anext(sessions)
    assert await count_staff(seed) == 1
