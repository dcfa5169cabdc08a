"""The filings' periodic jobs: expire what is past its last day, remind before it comes.

Safe with several workers at once (mtb/jobs.py runs them): rows are picked with `FOR UPDATE SKIP
LOCKED` on PostgreSQL (ignored on SQLite, which has one writer); an expiry is a `set_status`, whose
conditional UPDATE lets one worker act on a row (a renewal or revocation that got there first wins); a
reminder is an insert guarded by a primary key, so it goes out once, in the same transaction as its
notice. The selections scan (no index serves "active and due"): on SQLite they run off the event loop
(`off_loop`, mtb/db/sqlite_loop.py), 0.1–0.5 s each at 1 M.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import SYSTEM
from mtb.db.sqlite_loop import off_loop
from mtb.qualifications.models import Qualification, ReminderSent
from mtb.qualifications.notices import remind
from mtb.qualifications.service import QualificationChanged, add_event, set_status
from mtb.qualifications.states import Action, Status
from mtb.timeutil import utcnow

BATCH = 500


async def expire_due(session: AsyncSession, today: date) -> int:
    """Active filings whose last day is before `today` become expired (the person is told)."""
    rows = list((await session.execute(off_loop(
        select(Qualification).where(Qualification.status == Status.active.value, Qualification.valid_until < today)
        .order_by(Qualification.valid_until).limit(BATCH).with_for_update(skip_locked=True)))).scalars())
    done = 0
    for q in rows:
        try:
            await set_status(session, q, Status.expired, action=Action.expire, actor=SYSTEM)
        except QualificationChanged:
            continue  # another worker (or a renewal, a revocation) got there first
        done += 1
    return done


def _insert_ignore(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]


async def send_reminders(session: AsyncSession, today: date, days_before: list[int]) -> int:
    """Remind at each threshold once; a filing first seen late gets only the nearest reminder."""
    thresholds = sorted(set(days_before))
    if not thresholds:
        return 0
    rows = list((await session.execute(off_loop(
        select(Qualification).where(Qualification.status == Status.active.value,
                                    Qualification.valid_until.is_not(None),
                                    Qualification.valid_until >= today,
                                    Qualification.valid_until <= today + timedelta(days=thresholds[-1]))
        .limit(BATCH * 4)))).scalars())
    sent = 0
    insert = _insert_ignore(session)
    for q in rows:
        assert q.valid_until is not None
        left = (q.valid_until - today).days
        due = [t for t in thresholds if left <= t]
        newly = []
        for threshold in due:
            inserted = (await session.execute(
                insert(ReminderSent).values(qualification_id=q.id, days_before=threshold, sent_at=utcnow())
                .on_conflict_do_nothing().returning(ReminderSent.days_before))).first()
            if inserted is not None:  # None: this reminder went out before
                newly.append(threshold)
        if not newly:
            continue
        await add_event(session, q.id, "reminded", actor=SYSTEM, detail={"days_before": min(newly)})
        await remind(session, q, today)
        sent += 1
    return sent
