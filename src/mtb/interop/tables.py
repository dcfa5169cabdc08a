"""CSV tables for statisticians: one row per application, one row per review decision (docs/exports.md
defines every column).

No names, no full ID numbers, no card or phone numbers, no free text: people appear as a pseudonymous
key, sex, birth year and age band, and the masked ID number. Rows are read with a streamed query
(`yield_per`) in their own session and written out batch by batch, so a table of any size is never held
in memory. The file starts with a UTF-8 byte order mark so that Excel reads the Chinese names correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.models import Application, ApplicationEvent
from mtb.applications.states import Status
from mtb.catalog.document import CatalogDocument
from mtb.catalog.models import CatalogVersion
from mtb.catalog.service import catalog_by_version_id
from mtb.catalog.workdays import WorkdayCalendar
from mtb.identity.models import InsuredPerson
from mtb.interop.privacy import age_band, person_key, sex_of
from mtb.review.models import ReviewDecision
from mtb.timeutil import local_date

BOM = "\ufeff"
BATCH = 500

APPLICATION_COLUMNS = (
    "application_id", "person_key", "region_code", "catalog_version", "disease_code", "disease_name", "kind",
    "channel", "relation", "status", "rounds", "created_date", "first_submitted_date", "due_date",
    "decided_date", "working_days_taken", "decision", "reason_codes", "reviewer_id", "hospital_code",
    "insurance_type", "sex", "birth_year", "age_band", "id_number_masked",
)
DECISION_COLUMNS = (
    "decision_id", "application_id", "person_key", "region_code", "disease_code", "disease_name", "kind",
    "channel", "hospital_code", "round", "stage", "outcome", "reason_codes", "materials_acceptable",
    "materials_unclear", "materials_invalid", "reviewer_id", "round_submitted_date", "decided_date",
    "working_days", "due_date", "within_due",
)


def day_start(day: date, timezone: str) -> datetime:
    """The UTC instant a local day begins."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Which rows: a region (None: all) and local days `start`..`end`, both included (None: open)."""

    region_code: str | None = None
    start: date | None = None
    end: date | None = None

    def bounds(self, column: Any, timezone: str) -> list[ColumnElement[bool]]:
        terms: list[ColumnElement[bool]] = []
        if self.start is not None:
            terms.append(column >= day_start(self.start, timezone))
        if self.end is not None:
            terms.append(column < day_start(self.end + timedelta(days=1), timezone))
        return terms


@dataclass(frozen=True)
class TableContext:
    calendar: WorkdayCalendar
    data_key: str
    timezone: str


AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"  # a string: not evaluated at run time
Documents = dict[int, tuple[str, CatalogDocument]]  # catalog version id -> (version, document)
RowMaker = Callable[[Any, Documents, TableContext], list[Any]]
RowSource = Callable[[async_sessionmaker[AsyncSession], Period, TableContext], AsyncIterator[list[Any]]]


async def _documents(session: AsyncSession) -> Documents:
    """Every catalog version (a handful of rows), loaded before the stream opens."""
    out: Documents = {}
    for version_id in (await session.execute(select(CatalogVersion.id))).scalars():
        catalog = await catalog_by_version_id(session, version_id)
        out[version_id] = (catalog.version, catalog.document)
    return out


def _disease_name(doc: CatalogDocument, code: str) -> str:
    entry = doc.disease(code)
    return entry.name if entry else code


def _day(at: datetime | None) -> date | None:
    return local_date(at) if at is not None else None


def _codes(reasons: list[dict[str, str]] | None) -> str:
    return "|".join(r["code"] for r in reasons or [])


def _submitted(by_round: bool) -> Any:
    """The first `submitted` status event per application (and per round)."""
    keys = [ApplicationEvent.application_id] + ([ApplicationEvent.round] if by_round else [])
    return (select(*keys, func.min(ApplicationEvent.created_at).label("at"))
            .where(ApplicationEvent.action == "status", ApplicationEvent.to_status == Status.submitted.value)
            .group_by(*keys).subquery())


def applications_query(period: Period, timezone: str) -> AnySelect:
    first = _submitted(by_round=False)
    query = (
        select(Application.id, Application.region_code, Application.catalog_version_id,
               Application.disease_code, Application.kind, Application.channel, Application.relation,
               Application.status, Application.round, Application.created_at, Application.due_date,
               Application.hospital_code, Application.beneficiary_id, InsuredPerson.id_number_masked,
               InsuredPerson.birth_date, InsuredPerson.insurance_type, first.c.at.label("first_submitted_at"),
               ReviewDecision.outcome, ReviewDecision.reasons, ReviewDecision.reviewer_id,
               ReviewDecision.decided_at)
        .join(InsuredPerson, InsuredPerson.id == Application.beneficiary_id)
        .outerjoin(first, first.c.application_id == Application.id)
        # The final decision of the current round, if it has one (a resubmitted application has none yet).
        .outerjoin(ReviewDecision, and_(ReviewDecision.application_id == Application.id,
                                        ReviewDecision.round == Application.round,
                                        ReviewDecision.final.is_(True)))
        .where(*period.bounds(Application.created_at, timezone))
        .order_by(Application.created_at, Application.id))
    if period.region_code is not None:
        query = query.where(Application.region_code == period.region_code)
    return query


def decisions_query(period: Period, timezone: str) -> AnySelect:
    submitted = _submitted(by_round=True)
    query = (
        select(ReviewDecision.id, ReviewDecision.application_id, ReviewDecision.round, ReviewDecision.outcome,
               ReviewDecision.final, ReviewDecision.reasons, ReviewDecision.material_verdicts,
               ReviewDecision.reviewer_id, ReviewDecision.decided_at, Application.region_code,
               Application.catalog_version_id, Application.disease_code, Application.kind,
               Application.channel, Application.hospital_code, Application.beneficiary_id,
               Application.round.label("current_round"),
               Application.due_date, submitted.c.at.label("round_submitted_at"))
        .join(Application, Application.id == ReviewDecision.application_id)
        .outerjoin(submitted, and_(submitted.c.application_id == ReviewDecision.application_id,
                                   submitted.c.round == ReviewDecision.round))
        .where(*period.bounds(ReviewDecision.decided_at, timezone))
        .order_by(ReviewDecision.decided_at, ReviewDecision.id))
    if period.region_code is not None:
        query = query.where(Application.region_code == period.region_code)
    return query


def application_row(row: Any, docs: Documents, ctx: TableContext) -> list[Any]:
    version, doc = docs[row.catalog_version_id]
    created = local_date(row.created_at)
    first_submitted, decided = _day(row.first_submitted_at), _day(row.decided_at)
    taken = (ctx.calendar.working_days_between(first_submitted, decided)
             if first_submitted is not None and decided is not None else None)
    return [
        row.id, person_key(row.beneficiary_id, data_key=ctx.data_key), row.region_code, version,
        row.disease_code,
        _disease_name(doc, row.disease_code), row.kind, row.channel, row.relation, row.status, row.round,
        created, first_submitted, row.due_date, decided, taken, row.outcome, _codes(row.reasons),
        row.reviewer_id, row.hospital_code, row.insurance_type, sex_of(row.id_number_masked),
        row.birth_date.year, age_band(row.birth_date.year, created), row.id_number_masked,
    ]


def decision_row(row: Any, docs: Documents, ctx: TableContext) -> list[Any]:
    """Working days and the due date of the round as the statistics page counts them (web/stats.py)."""
    _version, doc = docs[row.catalog_version_id]
    submitted, decided = _day(row.round_submitted_at), local_date(row.decided_at)
    due: date | None = row.due_date if row.round == row.current_round else None
    if due is None and submitted is not None:
        due = ctx.calendar.add_working_days(submitted, doc.review_due_working_days)
    verdicts = [v.get("verdict") for v in row.material_verdicts or []]
    return [
        row.id, row.application_id, person_key(row.beneficiary_id, data_key=ctx.data_key), row.region_code,
        row.disease_code, _disease_name(doc, row.disease_code), row.kind, row.channel, row.hospital_code,
        row.round, "final" if row.final else "first_approval", row.outcome, _codes(row.reasons),
        verdicts.count("acceptable"), verdicts.count("unclear"), verdicts.count("invalid"), row.reviewer_id,
        submitted, decided,
        ctx.calendar.working_days_between(submitted, decided) if submitted is not None else None,
        due, None if due is None else str(decided <= due).lower(),
    ]


async def _rows(sessionmaker: async_sessionmaker[AsyncSession], query: AnySelect, ctx: TableContext,
                make: RowMaker) -> AsyncIterator[list[Any]]:
    async with sessionmaker() as session:
        docs = await _documents(session)
        result = await session.stream(query.execution_options(yield_per=BATCH))
        async for partition in result.partitions():
            for row in partition:
                yield make(row, docs, ctx)


def application_rows(sessionmaker: async_sessionmaker[AsyncSession], period: Period,
                     ctx: TableContext) -> AsyncIterator[list[Any]]:
    return _rows(sessionmaker, applications_query(period, ctx.timezone), ctx, application_row)


def decision_rows(sessionmaker: async_sessionmaker[AsyncSession], period: Period,
                  ctx: TableContext) -> AsyncIterator[list[Any]]:
    return _rows(sessionmaker, decisions_query(period, ctx.timezone), ctx, decision_row)


def _cell(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _encode(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


async def csv_chunks(columns: Sequence[str], rows: AsyncIterator[list[Any]]) -> AsyncIterator[bytes]:
    """The CSV file in chunks of `BATCH` rows: the byte order mark and the header first."""
    yield BOM.encode("utf-8") + _encode([columns])
    batch: list[list[Any]] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield _encode(batch)
            batch = []
    if batch:
        yield _encode(batch)
