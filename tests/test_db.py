"""The request's session: one commit after the route, rollback and clean-up on any error."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from mtb.db import after_commit, get_session, on_rollback
from mtb.identity.models import StaffRole, StaffUser
from mtb.identity.service import create_staff
from tests.factories import Seed


def fake_request(seed: Seed) -> SimpleNamespace:
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(sessionmaker=seed.sessionmaker)))


async def count_staff(seed: Seed) -> int:
    async with seed.sessionmaker() as s:
        return (await s.execute(select(func.count()).select_from(StaffUser))).scalar_one()


async def test_error_rolls_back_and_runs_rollback_callbacks_only(seed: Seed) -> None:
    calls: list[str] = []
    sessions = get_session(fake_request(seed))  # type: ignore[arg-type]
    session = await anext(sessions)
    await create_staff(session, username="x", password="", role=StaffRole.admin, region_code="110000",
                       password_hash="h")
    on_rollback(session, lambda: calls.append("rollback"))
    after_commit(session, lambda: calls.append("commit"))
    with pytest.raises(RuntimeError):
        await sessions.athrow(RuntimeError("route failed"))
    assert calls == ["rollback"]
    assert await count_staff(seed) == 0


async def test_success_commits_then_runs_commit_callbacks(seed: Seed) -> None:
    calls: list[str] = []
    sessions = get_session(fake_request(seed))  # type: ignore[arg-type]
    session = await anext(sessions)
    await create_staff(session, username="y", password="", role=StaffRole.admin, region_code="110000",
                       password_hash="h")
    on_rollback(session, lambda: calls.append("rollback"))
    after_commit(session, lambda: calls.append("commit"))
    with pytest.raises(StopAsyncIteration):
        await anext(sessions)
    assert calls == ["commit"]
    assert await count_staff(seed) == 1
