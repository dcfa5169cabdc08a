"""The periodic jobs' runner: each domain owns its jobs (qualifications/jobs.py: expire due filings and
remind before expiry; review/jobs.py: release lapsed claims; materials/jobs.py: remove files nothing
refers to; identity/ and channels/jobs.py: forget expired token revocations and assertion ids; the
pre-review, fast-track and webhook workers), and this module runs them once (`run_jobs`, the CLI's
`mtb jobs run`) or every `jobs_interval_seconds` inside `mtb serve` (`scheduler`).

Each job is idempotent and safe with several workers at once (see each domain's module): only one
worker acts on a row, and a message goes out once, in the same transaction as the change it reports.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.actors import SYSTEM
from mtb.catalog.calendar import recompute_provisional, synced
from mtb.catalog.workdays import load_calendar
from mtb.channels.jobs import forget_expired_assertions
from mtb.identity.jobs import forget_expired_revocations
from mtb.materials.jobs import collect_garbage
from mtb.materials.stores import make_storage
from mtb.observability import record_jobs, record_jobs_failure
from mtb.outage import dependency_of, failure_of
from mtb.prereview.fasttrack import sweep as sweep_fast_track
from mtb.prereview.service import run_pending
from mtb.prereview.service import worker as prereview_worker
from mtb.qualifications.jobs import expire_due, send_reminders
from mtb.review.jobs import release_lapsed_claims
from mtb.settings import Settings
from mtb.timeutil import local_today, utcnow
from mtb.webhooks.delivery import deliver_due
from mtb.webhooks.delivery import worker as webhook_worker

__all__ = ["JobReport", "collect_garbage", "expire_due", "release_lapsed_claims", "run_jobs", "scheduler",
           "send_reminders"]

log = logging.getLogger("mtb.jobs")


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
        await forget_expired_revocations(session, instant)
        await forget_expired_assertions(session, instant)
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
            record_jobs(vars(report))
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
