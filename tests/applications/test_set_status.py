"""An application's one status writer, `set_status`: every pair of statuses is allowed exactly when the
table says so, or refused with nothing written; a writer holding a stale status or version loses with a
409 `concurrent_change` (never a 500), and exactly one of two racing writers wins."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.actors import SYSTEM
from mtb.applications.models import Application, ApplicationEvent
from mtb.applications.service import set_status, update_guarded
from mtb.applications.states import ALLOWED, Status
from mtb.errors import Conflict
from tests.applications.helpers import BEIJING_SELF, create
from tests.factories import Seed
from tests.review.helpers import submitted


async def a_draft(seed: Seed) -> uuid.UUID:
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    response = await create(seed.client, headers, **BEIJING_SELF)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def written(sessionmaker: async_sessionmaker[AsyncSession], app_id: uuid.UUID) -> tuple[str, int, int]:
    async with sessionmaker() as s:
        app = await s.get(Application, app_id)
        assert app is not None
        events = (await s.execute(select(func.count()).select_from(ApplicationEvent)
                                  .where(ApplicationEvent.application_id == app_id))).scalar_one()
        return app.status, app.version, events


@pytest.mark.parametrize("current", list(Status), ids=[s.value for s in Status])
async def test_every_pair_is_allowed_only_by_the_table(seed: Seed, current: Status) -> None:
    app_id = await a_draft(seed)
    for to in Status:
        async with seed.sessionmaker() as s, s.begin():  # the application as it would be, in the real database
            await s.execute(update(Application).where(Application.id == app_id).values(status=current.value))
        status, version, events = await written(seed.sessionmaker, app_id)
        if to not in ALLOWED[current]:
            with pytest.raises(Conflict) as refused:
                async with seed.sessionmaker() as s, s.begin():
                    app = await s.get(Application, app_id)
                    assert app is not None
                    await set_status(s, app, to, actor=SYSTEM)
            assert refused.value.code == "invalid_transition", (current, to)
            assert await written(seed.sessionmaker, app_id) == (status, version, events), (current, to)
            continue
        async with seed.sessionmaker() as s, s.begin():
            app = await s.get(Application, app_id)
            assert app is not None
            await set_status(s, app, to, actor=SYSTEM)
        assert await written(seed.sessionmaker, app_id) == (to.value, version + 1, events + 1), (current, to)


async def test_a_stale_status_or_version_loses(seed: Seed) -> None:
    """Two writers read the same submitted application. The first moves it on (a status change, or a
    guarded change of other fields that only bumps the version); the second, allowed on what it read,
    loses with 409 concurrent_change and writes nothing."""
    app_id = await a_draft(seed)
    async with seed.sessionmaker() as s, s.begin():
        await s.execute(update(Application).where(Application.id == app_id).values(status=Status.submitted.value))
    for first in ("status", "version"):
        before = await written(seed.sessionmaker, app_id)
        async with seed.sessionmaker() as one, seed.sessionmaker() as other:
            mine, theirs = await one.get(Application, app_id), await other.get(Application, app_id)
            assert mine is not None and theirs is not None and mine.version == theirs.version
            if first == "status":
                await set_status(one, mine, Status.in_review, actor=SYSTEM)
            else:
                await update_guarded(one, mine)
            await one.commit()
            with pytest.raises(Conflict) as lost:
                await set_status(other, theirs, Status.withdrawn, actor=SYSTEM)
            assert (lost.value.status_code, lost.value.code) == (409, "concurrent_change")
            with pytest.raises(Conflict) as lost:
                await update_guarded(other, theirs)
            assert (lost.value.status_code, lost.value.code) == (409, "concurrent_change")
            await other.rollback()
        status, version, events = await written(seed.sessionmaker, app_id)
        assert version == before[1] + 1 and events == before[2] + (first == "status")
        assert status == (Status.in_review.value if first == "status" else before[0])
        if first == "status":  # back to submitted for the version round
            async with seed.sessionmaker() as s, s.begin():
                await s.execute(update(Application).where(Application.id == app_id)
                                .values(status=Status.submitted.value))


async def test_racing_withdrawals_withdraw_once(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    app_id, zh = await submitted(client, seed, await seed.person("zhang"))
    responses = await asyncio.gather(*(client.post(f"/api/v1/applications/{app_id}/withdraw", headers=zh,
                                                   json={"reason": f"第{i}次"}) for i in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 409, 409], [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 409} <= {"concurrent_change",
                                                                               "not_withdrawable"}
    timeline = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["timeline"]
    assert [t["to_status"] for t in timeline].count("withdrawn") == 1
