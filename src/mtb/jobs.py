"""Periodic jobs: expire due qualifications, release lapsed review claims, remind before expiry, remove
material files nothing refers to any more, pre-review queued materials and offer clean cases to the fast
track (mtb/prereview).

Each job is idempotent and safe with several workers at once: rows are picked with
`FOR UPDATE SKIP LOCKED` on PostgreSQL (ignored on SQLite, which has one writer), and each change is
a conditional update or an insert guarded by a primary key, so only one worker acts on a row and a
message goes out once, in the same transaction as the change it reports. The jobs' selections scan (no
index serves "active and due"): on SQLite they run off the event loop (`off_loop`, mtb/sqlite_loop.py),
0.1–0.5 s each at 1 M.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.service import record
from mtb.applications.states import Status
from mtb.catalog.calendar import recompute_provisional, synced
from mtb.catalog.examples import review_period_basis
from mtb.catalog.service import catalog_by_version_id
from mtb.catalog.workdays import load_calendar
from mtb.channels.models import ChannelAssertion
from mtb.doctor import remove_unreferenced
from mtb.identity.models import RevokedToken
from mtb.materials.storage import Storage, make_storage
from mtb.notifications.service import Message, notify
from mtb.observability import record_jobs, record_jobs_failure
from mtb.outage import dependency_of, failure_of
from mtb.prereview.fasttrack import sweep as sweep_fast_track
from mtb.prereview.service import run_pending
from mtb.prereview.service import worker as prereview_worker
from mtb.qualifications.models import Qualification, QualificationStatus, ReminderSent
from mtb.qualifications.service import add_event
from mtb.settings import Settings
from mtb.sqlite_loop import off_loop
from mtb.timeutil import local_today, utcnow
from mtb.webhooks.delivery import deliver_due
from mtb.webhooks.delivery import worker as webhook_worker

log = logging.getLogger("mtb.jobs")
SYSTEM = Actor("system", None)
BATCH = 500


@dataclass
class JobReport:
    expired: int = 0
    claims_released: int = 0
    reminders: int = 0
    files_removed: int = 0
    prereviewed: int = 0
    fast_tracked: int = 0
    webhooks_delivered: int = 0
    due_dates_recomputed: int = 0


async def _disease_name(session: AsyncSession, q: Qualification) -> str:
    doc = (await catalog_by_version_id(session, q.catalog_version_id)).document
    disease = doc.disease(q.disease_code)
    return disease.name if disease else q.disease_code


async def _example_note(session: AsyncSession, q: Qualification) -> str:
    """Said with a date that follows from an example re-review period (mtb/catalog/examples.py)."""
    doc = (await catalog_by_version_id(session, q.catalog_version_id)).document
    if review_period_basis(doc.disease(q.disease_code)) == "example":
        return "（有效期按示例复审期限计算，示例值，以经办机构通知为准）"
    return ""


async def expire_due(session: AsyncSession, today: date) -> int:
    rows = list((await session.execute(off_loop(
        select(Qualification).where(Qualification.status == QualificationStatus.active.value,
                                    Qualification.valid_until < today)
        .order_by(Qualification.valid_until).limit(BATCH).with_for_update(skip_locked=True)))).scalars())
    done = 0
    for q in rows:
        result = await session.execute(
            update(Qualification).where(Qualification.id == q.id,
                                        Qualification.status == QualificationStatus.active.value)
            .values(status=QualificationStatus.expired.value).execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another worker (or a renewal) got there first
        await add_event(session, q.id, "expired", actor=SYSTEM)
        await notify(session, Message(
            person_id=q.person_id, kind="qualification_expired", title="备案已到期",
            body=f"您的{await _disease_name(session, q)}备案已于 {q.valid_until} 到期{await _example_note(session, q)}。"
                 "如需继续享受待遇，请在续期期限内办理续期或重新申请。"))
        done += 1
    return done


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


def _insert_ignore(session: AsyncSession):  # type: ignore[no-untyped-def]
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]


async def send_reminders(session: AsyncSession, today: date, days_before: list[int]) -> int:
    """Remind at each threshold once; a filing first seen late gets only the nearest reminder."""
    thresholds = sorted(set(days_before))
    if not thresholds:
        return 0
    rows = list((await session.execute(off_loop(
        select(Qualification).where(Qualification.status == QualificationStatus.active.value,
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
        nearest = min(newly)
        await add_event(session, q.id, "reminded", actor=SYSTEM, detail={"days_before": nearest})
        await notify(session, Message(
            person_id=q.person_id, kind="qualification_expiring", title=f"备案将在 {left} 天后到期",
            body=f"您的{await _disease_name(session, q)}备案有效期至 {q.valid_until}{await _example_note(session, q)}，"
                 "请及时办理续期，以免影响待遇。"))
        sent += 1
    return sent


async def collect_garbage(session: AsyncSession, storage: Storage, now: datetime, grace_minutes: int) -> int:
    """Remove stored files that no material refers to and nobody touched for the grace period."""
    removal = await remove_unreferenced(session, storage, now=now, grace_minutes=grace_minutes)
    return removal.files + removal.temporaries


async def run_jobs(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *,
                   today: date | None = None, now: datetime | None = None) -> JobReport:
    """Run every job once, each in its own transaction."""
    report = JobReport()
    day, instant = today or local_today(), now or utcnow()
    async with sessionmaker() as session, session.begin():
        report.expired = await expire_due(session, day)
    async with sessionmaker() as session, session.begin():
        report.claims_released = await release_lapsed_claims(session, instant, settings.claim_idle_minutes)
    async with sessionmaker() as session, session.begin():
        report.reminders = await send_reminders(session, day, settings.reminder_days)
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < instant))
        # A used assertion id past its assertion's expiry: the assertion is refused as expired anyway.
        await session.execute(delete(ChannelAssertion).where(ChannelAssertion.expires_at < instant))
    async with sessionmaker() as session:
        report.files_removed = await collect_garbage(session, make_storage(settings), instant,
                                                     settings.storage_gc_grace_minutes)
    async with sessionmaker() as session, session.begin():
        # A schedule entered on another worker: due dates a worker still counted provisionally (mtb/catalog/calendar.py)
        calendar = await synced(session, load_calendar(settings.calendar_path))
        report.due_dates_recomputed = len(await recompute_provisional(session, calendar, actor=SYSTEM))
    report.prereviewed = await run_pending(sessionmaker, settings)  # its own transactions, see prereview/
    report.fast_tracked = await sweep_fast_track(sessionmaker, settings)
    report.webhooks_delivered = (await deliver_due(sessionmaker, settings)).delivered
    return report


async def scheduler(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Run the jobs every `jobs_interval_seconds` inside `mtb serve`, for as long as the app runs, and the
    pre-review worker that uploads and submissions wake in between, and the webhook worker."""
    prereview = asyncio.create_task(prereview_worker(sessionmaker, settings))
    webhooks = asyncio.create_task(webhook_worker(sessionmaker, settings))
    try:
        await _periodically(sessionmaker, settings)
    finally:
        prereview.cancel()
        webhooks.cancel()


async def _periodically(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    while True:
        try:
            report = await run_jobs(sessionmaker, settings)
            record_jobs(report)
            if any(vars(report).values()):
                log.info("jobs ran", extra=vars(report))
        except Exception as exc:
            record_jobs_failure()
            if (failure := failure_of(exc)) is not None:  # an outage: one line, not a traceback per run
                log.warning("jobs failed; will try again", extra={"dependency": dependency_of(failure),
                                                                   "error": type(exc).__name__})
            else:
                log.exception("jobs failed; will try again")
        await asyncio.sleep(settings.jobs_interval_seconds)
