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
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Join, Select, bindparam, literal_column, or_, select, true, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.selectable import FromClause
from sqlalchemy.sql.visitors import replacement_traverse

from mtb.applications import case_number
from mtb.applications.actors import staff_may_read
from mtb.applications.models import Application
from mtb.applications.states import LABELS, Status
from mtb.catalog.models import CatalogVersion
from mtb.catalog.workdays import WorkdayCalendar
from mtb.direct.applications import catalog_document
from mtb.direct.reader import DirectReader, as_date_or_none, as_datetime_or_none, as_uuid, as_uuid_or_none
from mtb.direct.statements import CodePointOrder, Statement, inline
from mtb.errors import Unprocessable
from mtb.identity.models import InsuredPerson, StaffUser
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
        # In UTC, as encoded: a cursor made up with no zone or one whose UTC instant leaves the calendar
        # (year 1 at +08:00) is refused here, not where the reader converts it for the driver (a 500).
        instant = datetime.fromisoformat(submitted)
        instant = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
        return date.fromisoformat(due), instant, uuid.UUID(app_id)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
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


_p = InsuredPerson.__table__.alias("p")
_c = CatalogVersion.__table__.alias("c")
_s = StaffUser.__table__.alias("s")
# The QueueRow's fields, in its order.
_COLUMNS = (Application.id, Application.disease_code, Application.hospital_code, Application.channel,
            Application.status, Application.round, Application.submitted_at, Application.due_date,
            Application.claimed_by_id, Application.claimed_at, Application.pending_approval_by_id,
            Application.catalog_version_id, _c.c.sha256.label("catalog_sha256"), _p.c.name.label("beneficiary_name"),
            _p.c.id_number_masked.label("beneficiary_id_number_masked"),
            _s.c.username.label("claimed_by_username"), Application.case_number, Application.due_date_provisional)


class _CrossJoin(Join):
    """`left CROSS JOIN right`: SQLite keeps a CROSS JOIN's tables in the order written (its planner's
    documented override); PostgreSQL plans it as any inner join. The join condition goes in WHERE."""

    inherit_cache = True

    def __init__(self, left: FromClause, right: FromClause) -> None:
        super().__init__(left, right, true())


@compiles(_CrossJoin)
def _compile_cross_join(element: _CrossJoin, compiler: SQLCompiler, **kw: Any) -> str:
    kw["asfrom"] = True
    return f"{compiler.process(element.left, **kw)} CROSS JOIN {compiler.process(element.right, **kw)}"


def _unindexed_region(predicate: ColumnElement[bool]) -> ColumnElement[bool]:
    """The region filter with `applications.region_code || ''` for the column: the same rule, checked on
    each application found, not used to walk the region's applications by index (which SQLite would
    otherwise choose)."""
    table = Application.__table__

    def replace(element: Any) -> Any:
        if isinstance(element, ColumnClause) and getattr(element, "table", None) is table \
                and element.key == "region_code":
            return element.op("||")(literal_column("''"))
        return None

    return replacement_traverse(predicate, {}, replace)


_statements: dict[tuple[Any, ...], Statement] = {}


def queue_sql(*, statuses: list[str], filters: QueueFilter, with_cursor: bool) -> Statement:
    """One page of the queue, read off ix_applications_review_queue in index order, for the region's staff
    (applications/actors.py staff_may_read, as the session path's readable_by). One statement per
    combination of filters given, kept.

    The statuses are written into the SQL text, not bound (they are Status values, never input):
    SQLite uses a partial index only when it can see, when it plans the statement, that the query's
    terms imply the index's WHERE clause; a bound parameter hides the values, and the plan then sorts
    every open application of the region.

    A case number is looked up by uq_applications_case_number. Any other search starts from the people
    (ix_insured_persons_name / _last4, then the applications of each by ix_applications_beneficiary_id):
    SQLite's CROSS JOIN keeps that order, and only the few matches are sorted (the region is checked on
    each, see `_unindexed_region`). A name's beginning is compared in code-point order, the collation the
    name index is built with (BINARY on SQLite, "C" on PostgreSQL), so that it is one range of it.
    """
    search = filters.search
    key = (*statuses, search is not None and not search.case_number, search is not None and bool(search.name),
           search is not None and bool(search.last4), search is not None and bool(search.case_number),
           not filters.disease_code, not filters.channel, filters.overdue, filters.free_for is None, with_cursor,
           filters.sort)
    found = _statements.get(key)
    if found is None:
        found = _statements[key] = Statement(
            "queue", _queue_select(tuple(Status(s).value for s in statuses), filters, with_cursor))
    return found


def _queue_select(statuses: tuple[str, ...], filters: QueueFilter, with_cursor: bool) -> Select[Any]:
    region = staff_may_read(bindparam("region"))
    open_statuses = Application.status.in_([inline(s) for s in statuses])
    search = filters.search
    query = select(*_COLUMNS)
    if search is not None and not search.case_number:
        query = query.select_from(_CrossJoin(_p, Application.__table__)).where(
            Application.beneficiary_id == _p.c.id, _unindexed_region(region), open_statuses)
    else:
        query = query.select_from(Application.__table__).join(_p, _p.c.id == Application.beneficiary_id)
    query = (query.join(_c, _c.c.id == Application.catalog_version_id)
             .outerjoin(_s, _s.c.id == Application.claimed_by_id))
    if search is not None and search.case_number:
        # found by uq_applications_case_number, the region checked on the one found
        query = query.where(_unindexed_region(region), open_statuses,
                            Application.case_number == bindparam("case_number"))
    elif search is not None:
        if search.name:
            query = query.where(CodePointOrder(_p.c.name) >= bindparam("name_from"),
                                CodePointOrder(_p.c.name) < bindparam("name_to"))
        if search.last4:
            query = query.where(_p.c.id_number_last4 == bindparam("last4"))
    else:
        query = query.where(region, open_statuses)
    if filters.disease_code:
        query = query.where(Application.disease_code == bindparam("disease_code"))
    if filters.channel:
        query = query.where(Application.channel == bindparam("channel"))
    if filters.overdue is True:
        query = query.where(Application.due_date < bindparam("today"))
    elif filters.overdue is False:
        query = query.where(Application.due_date >= bindparam("today"))
    if filters.free_for is not None:
        query = query.where(
            or_(Application.claimed_by_id.is_(None), Application.claimed_at < bindparam("lapsed_before")),
            or_(Application.pending_approval_by_id.is_(None),
                Application.pending_approval_by_id != bindparam("free_for")))
    order = (Application.due_date, Application.submitted_at, Application.id)
    descending = filters.sort == "-due"
    if with_cursor:
        place = tuple_(*order)
        after = tuple_(bindparam("cursor_due"), bindparam("cursor_submitted"), bindparam("cursor_id"))
        query = query.where(place < after if descending else place > after)
    return query.order_by(*(c.desc() for c in order) if descending else order).limit(bindparam("limit"))


def queue_params(reader: DirectReader, *, region_code: str, filters: QueueFilter, cursor: str | None,
                 today: date, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {"region": region_code, "limit": limit + 1}
    if filters.search is not None and filters.search.case_number:
        params["case_number"] = filters.search.case_number
    elif filters.search is not None:
        if filters.search.name:
            params["name_from"], params["name_to"] = filters.search.name, filters.search.name + "\U0010ffff"
        if filters.search.last4:
            params["last4"] = filters.search.last4
    if filters.disease_code:
        params["disease_code"] = filters.disease_code
    if filters.channel:
        params["channel"] = filters.channel
    if filters.overdue is not None:
        params["today"] = reader.date_param(today)
    if filters.free_for is not None:
        assert filters.lapsed_before is not None
        params["lapsed_before"] = reader.datetime_param(filters.lapsed_before)
        params["free_for"] = reader.uuid_param(filters.free_for)
    cursor = normalize_cursor(cursor)
    if cursor is not None:
        due, submitted, app_id = decode_cursor(cursor)
        params["cursor_due"], params["cursor_submitted"] = reader.date_param(due), reader.datetime_param(submitted)
        params["cursor_id"] = reader.uuid_param(app_id)
    return params


async def queue_rows(reader: DirectReader, *, region_code: str, filters: QueueFilter, limit: int,
                     cursor: str | None, today: date) -> list[QueueRow]:
    """Up to `limit` + 1 rows of the queue in its order (the extra one tells whether a next page exists)."""
    cursor = normalize_cursor(cursor)
    statuses = [filters.status.value] if filters.status else [s.value for s in QUEUE_STATUSES]
    statement = queue_sql(statuses=statuses, filters=filters, with_cursor=cursor is not None)
    params = queue_params(reader, region_code=region_code, filters=filters, cursor=cursor, today=today, limit=limit)
    return [QueueRow(
        id=as_uuid(r.id), disease_code=r.disease_code, hospital_code=r.hospital_code, channel=r.channel,
        status=r.status, round=r.round, submitted_at=as_datetime_or_none(r.submitted_at),
        due_date=as_date_or_none(r.due_date), claimed_by_id=as_uuid_or_none(r.claimed_by_id),
        claimed_at=as_datetime_or_none(r.claimed_at), pending_approval_by_id=as_uuid_or_none(r.pending_approval_by_id),
        catalog_version_id=r.catalog_version_id, catalog_sha256=r.catalog_sha256, beneficiary_name=r.beneficiary_name,
        beneficiary_id_number_masked=r.beneficiary_id_number_masked, claimed_by_username=r.claimed_by_username,
        case_number=r.case_number, due_date_provisional=bool(r.due_date_provisional))
        for r in await reader.all(statement, params)]


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
