"""The review queue: the region's submitted and in-review applications, soonest due first.

Paging is by keyset on (due date, submission time, id), so a page never repeats or skips an item
when others are decided meanwhile.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mtb.applications.states import LABELS, Status
from mtb.catalog.workdays import WorkdayCalendar
from mtb.direct.applications import catalog_document
from mtb.direct.reader import DirectReader, as_date_or_none, as_datetime_or_none, as_uuid, as_uuid_or_none
from mtb.errors import Unprocessable
from mtb.review.schemas import QueueItem, QueuePage
from mtb.review.service import claim_state
from mtb.timeutil import local_today

# In this order: ix_applications_review_queue (applications/models.py) is spelled the same way.
QUEUE_STATUSES = (Status.submitted, Status.in_review)


@dataclass(frozen=True)
class QueueFilter:
    status: Status | None = None
    disease_code: str | None = None
    channel: str | None = None
    overdue: bool | None = None


def encode_cursor(app: QueueRow) -> str:
    assert app.due_date is not None and app.submitted_at is not None
    raw = json.dumps([app.due_date.isoformat(), app.submitted_at.isoformat(), str(app.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[date, datetime, uuid.UUID]:
    try:
        due, submitted, app_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return date.fromisoformat(due), datetime.fromisoformat(submitted), uuid.UUID(app_id)
    except (ValueError, TypeError, AttributeError) as exc:
        raise Unprocessable("invalid_cursor", "分页参数无效，请从第一页重新查看") from exc


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: uuid.UUID
    disease_code: str
    hospital_code: str
    channel: str
    status: str
    round: int
    submitted_at: datetime | None
    due_date: date | None
    claimed_by_id: uuid.UUID | None
    claimed_at: datetime | None
    pending_approval_by_id: uuid.UUID | None
    catalog_version_id: int
    catalog_sha256: str
    beneficiary_name: str
    beneficiary_id_number_masked: str
    claimed_by_username: str | None
    case_number: str | None


def queue_sql(*, statuses: list[str], filters: QueueFilter, with_cursor: bool) -> str:
    """One page of the queue, read off ix_applications_review_queue in index order.

    The statuses are written into the SQL text, not bound (they are Status values, never input):
    SQLite uses a partial index only when it can see, when it plans the statement, that the query's
    terms imply the index's WHERE clause; a bound parameter hides the values, and the plan then sorts
    every open application of the region.
    """
    in_statuses = ", ".join(f"'{Status(s).value}'" for s in statuses)
    sql = ("SELECT a.id, a.disease_code, a.hospital_code, a.channel, a.status, a.round, a.submitted_at, "
           "a.due_date, a.claimed_by_id, a.claimed_at, a.pending_approval_by_id, a.catalog_version_id, c.sha256, "
           "p.name, p.id_number_masked, s.username, a.case_number "
           "FROM applications a "
           "JOIN insured_persons p ON p.id = a.beneficiary_id "
           "JOIN catalog_versions c ON c.id = a.catalog_version_id "
           "LEFT JOIN staff_users s ON s.id = a.claimed_by_id "
           f"WHERE a.region_code = ? AND a.status IN ({in_statuses})")
    if filters.disease_code:
        sql += " AND a.disease_code = ?"
    if filters.channel:
        sql += " AND a.channel = ?"
    if filters.overdue is True:
        sql += " AND a.due_date < ?"
    elif filters.overdue is False:
        sql += " AND a.due_date >= ?"
    if with_cursor:
        sql += " AND (a.due_date, a.submitted_at, a.id) > (?, ?, ?)"
    return sql + " ORDER BY a.due_date, a.submitted_at, a.id LIMIT ?"


def queue_params(reader: DirectReader, *, region_code: str, filters: QueueFilter, cursor: str | None,
                 today: date, limit: int) -> list[Any]:
    params: list[Any] = [region_code]
    if filters.disease_code:
        params.append(filters.disease_code)
    if filters.channel:
        params.append(filters.channel)
    if filters.overdue is not None:
        params.append(reader.date_param(today))
    if cursor:
        due, submitted, app_id = decode_cursor(cursor)
        params += [reader.date_param(due), reader.datetime_param(submitted), reader.uuid_param(app_id)]
    return [*params, limit + 1]


async def review_queue(reader: DirectReader, *, region_code: str, filters: QueueFilter, limit: int,
                       cursor: str | None, calendar: WorkdayCalendar, idle_minutes: int) -> QueuePage:
    """A page of the region's queue, through the direct reader (a read that is not audited; see
    mtb/direct): one statement, and the catalogs from the per-worker cache."""
    if filters.status is not None and filters.status not in QUEUE_STATUSES:
        raise Unprocessable("invalid_status_filter", "待审队列只包含“已提交”和“审核中”的申请")
    statuses = [filters.status.value] if filters.status else [s.value for s in QUEUE_STATUSES]
    today = local_today()
    sql = queue_sql(statuses=statuses, filters=filters, with_cursor=cursor is not None)
    params = queue_params(reader, region_code=region_code, filters=filters, cursor=cursor, today=today, limit=limit)
    rows = [QueueRow(as_uuid(r[0]), r[1], r[2], r[3], r[4], r[5], as_datetime_or_none(r[6]), as_date_or_none(r[7]),
                     as_uuid_or_none(r[8]), as_datetime_or_none(r[9]), as_uuid_or_none(r[10]), r[11], r[12], r[13],
                     r[14], r[15], r[16]) for r in await reader.all(sql, params)]
    page = rows[:limit]
    docs = {v: await catalog_document(reader, v, sha) for v, sha in {(r.catalog_version_id, r.catalog_sha256)
                                                                      for r in page}}
    items = []
    for app in page:
        doc = docs[app.catalog_version_id]
        disease, hospital, channel = doc.disease(app.disease_code), doc.hospital(app.hospital_code), doc.channel(app.channel)
        state = claim_state(app, idle_minutes=idle_minutes)
        holder = (app.claimed_by_username or "") if state.active and state.holder_id is not None else None
        items.append(QueueItem(
            id=app.id, case_number=app.case_number, disease_code=app.disease_code, disease_name=disease.name if disease else app.disease_code,
            hospital_name=hospital.name if hospital else app.hospital_code, channel=app.channel,
            channel_name=channel.name if channel else app.channel, beneficiary_name=app.beneficiary_name,
            beneficiary_id_number_masked=app.beneficiary_id_number_masked, status=app.status,
            status_label=LABELS[Status(app.status)], round=app.round, submitted_at=app.submitted_at,
            due_date=app.due_date,
            working_days_left=calendar.working_days_between(today, app.due_date) if app.due_date else None,
            overdue=bool(app.due_date and app.due_date < today), claimed_by=holder,
            awaiting_confirmation=app.pending_approval_by_id is not None))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return QueuePage(items=items, next_cursor=next_cursor)
