"""The reviewer's rhythm: the next application to take, in queue order, and a reviewer's own counts.

`claim_next` reads the candidates off the queue's index (the same statement as a queue page, limited to
what this reviewer could claim now) and claims the first one still free: two reviewers asking at once
get two different applications, since the claim itself is guarded by the application's version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import staff_may_read
from mtb.applications.models import Application
from mtb.applications.states import Status
from mtb.direct.reader import DirectReader
from mtb.direct.statements import Statement, inline
from mtb.errors import Conflict, NotFound
from mtb.identity.models import StaffUser
from mtb.review.models import ReviewDecision
from mtb.review.queue import QUEUE_STATUSES, QueueFilter, QueueRow, encode_cursor, queue_rows
from mtb.review.service import claim
from mtb.timeutil import local_today, utcnow

_CANDIDATES = 10


async def claim_next(session: AsyncSession, reader: DirectReader, *, staff: StaffUser, filters: QueueFilter,
                     after: uuid.UUID | None, idle_minutes: int) -> Application:
    """Claim the first application in queue order (under `filters`) that nobody holds; with `after`, the
    first one after that application's place in the order (to skip it), and past the end, from the top
    again (without it). 404 `queue_empty` if none."""
    now = utcnow()
    free = replace(filters, free_for=staff.id, lapsed_before=now - timedelta(minutes=idle_minutes))
    cursor = None
    if after is not None:
        current = await session.get(Application, after)
        if current is not None and current.region_code == staff.region_code and current.due_date \
                and current.submitted_at:
            cursor = encode_cursor(QueueRow(current.id, "", "", "", "", 0, current.submitted_at, current.due_date,
                                            None, None, None, 0, "", "", "", None, None))
    today = local_today()
    for start in ([cursor, None] if cursor is not None else [None]):  # past the end: from the top again
        app = await _first_free(session, reader, staff=staff, filters=free, cursor=start, skip=after,
                                today=today, idle_minutes=idle_minutes)
        if app is not None:
            return app
    raise NotFound("queue_empty", "队列中暂无可领取的申请")


async def _first_free(session: AsyncSession, reader: DirectReader, *, staff: StaffUser, filters: QueueFilter,
                      cursor: str | None, skip: uuid.UUID | None, today: date,
                      idle_minutes: int) -> Application | None:
    while True:
        rows = await queue_rows(reader, region_code=staff.region_code, filters=filters, limit=_CANDIDATES,
                                cursor=cursor, today=today)
        for row in rows[:_CANDIDATES]:
            if row.id == skip:
                continue
            app = await session.get(Application, row.id, populate_existing=True)
            if app is None:
                continue
            try:  # a refused claim writes nothing (its checks and its guarded update come first)
                await claim(session, app, staff=staff, idle_minutes=idle_minutes)
            except Conflict:
                continue  # taken (or decided) a moment ago: the next one
            return app
        if len(rows) <= _CANDIDATES:
            return None
        cursor = encode_cursor(rows[_CANDIDATES - 1])


@dataclass(frozen=True)
class ReviewerCounts:
    decided_today: int
    held_now: int
    overdue_in_region: int


# Each one a range of an index: ix_review_decisions_reviewer_day, ix_applications_claimed_by, and
# ix_applications_region_status_due (the overdue part of the region's queue, per status).
# The status values are written into the text (direct/statements.py inline), as in the queue.
COUNTS_SQL = (
    Statement("decided", select(func.count().label("n")).select_from(ReviewDecision).where(
        ReviewDecision.reviewer_id == bindparam("staff"), ReviewDecision.decided_at >= bindparam("since"))),
    Statement("held", select(func.count().label("n")).select_from(Application).where(
        Application.claimed_by_id == bindparam("staff"), Application.claimed_at >= bindparam("since"),
        Application.status == inline(Status.in_review.value))),
    Statement("overdue", select(func.count().label("n")).select_from(Application).where(
        staff_may_read(bindparam("region")),
        Application.status.in_([inline(s.value) for s in QUEUE_STATUSES]),
        Application.due_date < bindparam("today"))),
)


async def reviewer_counts(reader: DirectReader, *, staff_id: uuid.UUID, region_code: str, idle_minutes: int,
                          timezone: str) -> ReviewerCounts:
    """Decided today (since local midnight, final decisions and first approvals), held now (claims not
    lapsed), and overdue in the region's queue."""
    today = local_today()
    midnight = datetime.combine(today, time(), tzinfo=ZoneInfo(timezone))
    staff = reader.uuid_param(staff_id)
    (decided,), (held,), (overdue,) = (rows[0] for rows in await reader.many([
        (COUNTS_SQL[0], {"staff": staff, "since": reader.datetime_param(midnight)}),
        (COUNTS_SQL[1], {"staff": staff,
                         "since": reader.datetime_param(utcnow() - timedelta(minutes=idle_minutes))}),
        (COUNTS_SQL[2], {"region": region_code, "today": reader.date_param(today)})]))
    return ReviewerCounts(int(decided), int(held), int(overdue))
