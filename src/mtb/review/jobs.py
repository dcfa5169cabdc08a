"""The review's periodic job: release claims a reviewer left idle (mtb/jobs.py runs it).

Rows are picked with `FOR UPDATE SKIP LOCKED` on PostgreSQL; each release is an UPDATE guarded by the
application's version, so only one worker acts on a claim, and it is recorded in the same transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import SYSTEM
from mtb.applications.models import Application
from mtb.applications.service import record
from mtb.applications.states import Status
from mtb.db.sqlite_loop import off_loop

BATCH = 500


async def release_lapsed_claims(session: AsyncSession, now: datetime, idle_minutes: int) -> int:
    cutoff = now - timedelta(minutes=idle_minutes)
    rows = list((await session.execute(off_loop(
        select(Application).where(Application.status == Status.in_review.value,
                                  Application.claimed_by_id.is_not(None), Application.claimed_at < cutoff)
        .limit(BATCH).with_for_update(skip_locked=True)))).scalars())
    done = 0
    for app in rows:
        result = await session.execute(
            update(Application).where(Application.id == app.id, Application.version == app.version)
            .values(claimed_by_id=None, claimed_at=None, version=app.version + 1, updated_at=now)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        holder = app.claimed_by_id
        await session.refresh(app)
        await record(session, app, "claim_lapsed", actor=SYSTEM, detail={"holder": str(holder)})
        done += 1
    return done
