"""The review queue: the region's submitted and in-review applications, soonest due first.

Paging is by keyset on (due date, submission time, id), so a page never repeats or skips an item
when others are decided meanwhile.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from mtb.applications import case_number
from mtb.applications.states import LABELS, Status
from mtb.catalog.workdays import WorkdayCalendar
from mtb.direct.applications import catalog_document
from mtb.direct.reader import DirectReader, as_date_or_none, as_datetime_or_none, as_uuid, as_uuid_or_none
from mtb.errors import Unprocessable
from mtb.review.claims import claim_state
from mtb.review.schemas import QueueItem, QueuePage
from mtb.timeutil import local_today

# In this order: ix_applications_review_queue (applications/models.py) is spelled the same way.
QUEUE_STATUSES = (Status.submitted, Status.in_review)


Sort = Literal["due", "-due"]
SORTS: dict[str, str] = {"due": "到期日由近及远", "-due": "到期日由远及近"}
_LAST4 = re.compile(r"\d{3}[\dXx]")
_DIGITS = re.compile(r"[\dXx]+")
_CASE = re.compile(r"[A-Z]{2}\d{8}-?\d{6,}")


@dataclass(frozen=True)
class QueueSearch:
    """What a reviewer typed in the queue's search box: a case number (受理编号, with or without its dash
    and spaces), or words each of which is the beginning of a name or the last four characters of an ID
    number (both must match when both are given)."""

    name: str | None = None
    last4: str | None = None
    case_number: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> QueueSearch | None:
        # Whitespace of any kind separates words; other unprintable characters (a NUL byte PostgreSQL would
        # refuse) are dropped.
        text = "".join(c if c.isprintable() else " " if c.isspace() else "" for c in (text or "").replace("\u3000", " "))
        compact = case_number.normalize(text)
        if _CASE.fullmatch(compact):
            return cls(case_number=compact if "-" in compact else f"{compact[:10]}-{compact[10:]}")
        words = text.split()
        if not words:
            return None
        name, last4 = [], None
        for word in words:
            if _LAST4.fullmatch(word):
                last4 = word.upper()
            elif _DIGITS.fullmatch(word):
                raise Unprocessable("invalid_search", "请输入参保人姓名、身份证号的后 4 位，或完整的受理编号")
            else:
                name.append(word)
        return cls(name="".join(name) or None, last4=last4)


@dataclass(frozen=True)
class QueueFilter:
    status: Status | None = None
    disease_code: str | None = None
    channel: str | None = None
    overdue: bool | None = None
    search: QueueSearch | None = None
    sort: Sort = "due"
    # Only applications this reviewer could claim now: nobody holds them (or the claim lapsed at
    # `lapsed_before`), and they are not awaiting this reviewer's own second approval.
    free_for: uuid.UUID | None = None
    lapsed_before: datetime | None = None


def encode_cursor(app: QueueRow) -> str:
    assert app.due_date is not None and app.submitted_at is not None
    raw = json.dumps([app.due_date.isoformat(), app.submitted_at.isoformat(), str(app.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def normalize_cursor(cursor: str | None) -> str | None:
    """An empty (or blank) cursor, as in `?cursor=`, means the first page, the same as no cursor."""
    if cursor is None or not cursor.strip():
        return None
    return cursor


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
    due_date_provisional: bool = False


_COLUMNS = ("SELECT a.id, a.disease_code, a.hospital_code, a.channel, a.status, a.round, a.submitted_at, "
            "a.due_date, a.claimed_by_id, a.claimed_at, a.pending_approval_by_id, a.catalog_version_id, c.sha256, "
            "p.name, p.id_number_masked, s.username, a.case_number, a.due_date_provisional ")


def queue_sql(*, statuses: list[str], filters: QueueFilter, with_cursor: bool, collation: str = "BINARY") -> str:
    """One page of the queue, read off ix_applications_review_queue in index order.

    The statuses are written into the SQL text, not bound (they are Status values, never input):
    SQLite uses a partial index only when it can see, when it plans the statement, that the query's
    terms imply the index's WHERE clause; a bound parameter hides the values, and the plan then sorts
    every open application of the region.

    A case number is looked up by uq_applications_case_number. Any other search starts from the people (ix_insured_persons_name / _last4, then the applications of
    each by ix_applications_beneficiary_id): SQLite's CROSS JOIN keeps that order, and only the few matches
    are sorted (the region is checked on each, see below). `collation` is the reader's code-point-order
    collation, the one the name index is built with (BINARY on SQLite, "C" on PostgreSQL), so that a
    name's beginning is one range of it.
    """
    in_statuses = ", ".join(f"'{Status(s).value}'" for s in statuses)
    search = filters.search
    if search is not None and search.case_number:
        sql = (_COLUMNS + "FROM applications a "
               "JOIN insured_persons p ON p.id = a.beneficiary_id "
               "JOIN catalog_versions c ON c.id = a.catalog_version_id "
               "LEFT JOIN staff_users s ON s.id = a.claimed_by_id "
               # `|| ''`: found by uq_applications_case_number, the region checked on the one found
               f"WHERE a.region_code || '' = ? AND a.status IN ({in_statuses}) AND a.case_number = ?")
    elif search is not None:
        sql = (_COLUMNS + "FROM insured_persons p CROSS JOIN applications a "
               "JOIN catalog_versions c ON c.id = a.catalog_version_id "
               "LEFT JOIN staff_users s ON s.id = a.claimed_by_id "
               # `|| ''`: the region is checked on each found application, not used to walk the region's
               # applications (which SQLite would otherwise choose, for every person found)
               f"WHERE a.beneficiary_id = p.id AND a.region_code || '' = ? AND a.status IN ({in_statuses})")
        if search.name:
            sql += f" AND p.name COLLATE {collation} >= ? AND p.name COLLATE {collation} < ?"
        if search.last4:
            sql += " AND p.id_number_last4 = ?"
    else:
        sql = (_COLUMNS + "FROM applications a "
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
    if filters.free_for is not None:
        sql += (" AND (a.claimed_by_id IS NULL OR a.claimed_at < ?)"
                " AND (a.pending_approval_by_id IS NULL OR a.pending_approval_by_id <> ?)")
    descending = filters.sort == "-due"
    if with_cursor:
        sql += f" AND (a.due_date, a.submitted_at, a.id) {'<' if descending else '>'} (?, ?, ?)"
    if descending:
        return sql + " ORDER BY a.due_date DESC, a.submitted_at DESC, a.id DESC LIMIT ?"
    return sql + " ORDER BY a.due_date, a.submitted_at, a.id LIMIT ?"


def queue_params(reader: DirectReader, *, region_code: str, filters: QueueFilter, cursor: str | None,
                 today: date, limit: int) -> list[Any]:
    params: list[Any] = [region_code]
    if filters.search is not None and filters.search.case_number:
        params.append(filters.search.case_number)
    elif filters.search is not None:
        if filters.search.name:
            params += [filters.search.name, filters.search.name + "\U0010ffff"]
        if filters.search.last4:
            params.append(filters.search.last4)
    if filters.disease_code:
        params.append(filters.disease_code)
    if filters.channel:
        params.append(filters.channel)
    if filters.overdue is not None:
        params.append(reader.date_param(today))
    if filters.free_for is not None:
        assert filters.lapsed_before is not None
        params += [reader.datetime_param(filters.lapsed_before), reader.uuid_param(filters.free_for)]
    cursor = normalize_cursor(cursor)
    if cursor is not None:
        due, submitted, app_id = decode_cursor(cursor)
        params += [reader.date_param(due), reader.datetime_param(submitted), reader.uuid_param(app_id)]
    return [*params, limit + 1]


async def queue_rows(reader: DirectReader, *, region_code: str, filters: QueueFilter, limit: int,
                     cursor: str | None, today: date) -> list[QueueRow]:
    """Up to `limit` + 1 rows of the queue in its order (the extra one tells whether a next page exists)."""
    cursor = normalize_cursor(cursor)
    statuses = [filters.status.value] if filters.status else [s.value for s in QUEUE_STATUSES]
    sql = queue_sql(statuses=statuses, filters=filters, with_cursor=cursor is not None,
                    collation=reader.byte_collation)
    params = queue_params(reader, region_code=region_code, filters=filters, cursor=cursor, today=today, limit=limit)
    return [QueueRow(as_uuid(r[0]), r[1], r[2], r[3], r[4], r[5], as_datetime_or_none(r[6]), as_date_or_none(r[7]),
                     as_uuid_or_none(r[8]), as_datetime_or_none(r[9]), as_uuid_or_none(r[10]), r[11], r[12], r[13],
                     r[14], r[15], r[16], bool(r[17])) for r in await reader.all(sql, params)]


async def review_queue(reader: DirectReader, *, region_code: str, filters: QueueFilter, limit: int,
                       cursor: str | None, calendar: WorkdayCalendar, idle_minutes: int) -> QueuePage:
    """A page of the region's queue, through the direct reader (a read that is not audited; see
    mtb/direct): one statement, and the catalogs from the per-worker cache."""
    if filters.status is not None and filters.status not in QUEUE_STATUSES:
        raise Unprocessable("invalid_status_filter", "待审队列只包含“已提交”和“审核中”的申请")
    today = local_today()
    rows = await queue_rows(reader, region_code=region_code, filters=filters, limit=limit, cursor=cursor,
                            today=today)
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
            due_date=app.due_date, due_date_provisional=app.due_date_provisional,
            working_days_left=calendar.working_days_between(today, app.due_date) if app.due_date else None,
            overdue=bool(app.due_date and app.due_date < today), claimed_by=holder,
            awaiting_confirmation=app.pending_approval_by_id is not None))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return QueuePage(items=items, next_cursor=next_cursor)
