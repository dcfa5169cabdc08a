"""Loading catalog versions and finding the one in force for a region on a given day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import BindParameter, ColumnElement, Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.catalog.document import CatalogDocument
from mtb.catalog.examples import example_refusal
from mtb.catalog.loader import CatalogInvalid, CatalogProblem, ParsedCatalog
from mtb.catalog.models import CatalogVersion
from mtb.errors import NotFound
from mtb.settings import get_settings
from mtb.timeutil import local_today, utcnow

# Parsed documents by (row id, content hash): versions are immutable, so entries never go stale.
_documents: dict[tuple[int, str], CatalogDocument] = {}


@dataclass(frozen=True)
class ActiveCatalog:
    version_id: int
    version: str
    effective_from: date
    document: CatalogDocument


@dataclass(frozen=True)
class LoadOutcome:
    file: str
    region_code: str
    version: str
    result: Literal["loaded", "unchanged"]


async def load_catalogs(session: AsyncSession, parsed: list[ParsedCatalog]) -> list[LoadOutcome]:
    """Store each parsed file as a new version, all or nothing.

    Reloading a version with identical bytes is a no-op; the same version with other content, or a
    second version starting on the same day, is refused (versions never change once loaded).
    """
    outcomes: list[LoadOutcome] = []
    problems: list[CatalogProblem] = []
    pending: list[CatalogVersion] = []
    settings = get_settings()
    refuse_examples = settings.env == "production" and not settings.allow_example_policy
    for item in parsed:
        doc = item.document
        region = doc.region.code
        if refuse_examples and (examples := example_refusal(item.file, doc)):
            problems += [CatalogProblem(item.file, path, reason) for path, reason in examples]
            continue
        clash = next((p for p in pending if p.region_code == region and
                      (p.version == doc.version or p.effective_from == doc.effective_from)), None)
        if clash is not None:
            problems.append(CatalogProblem(item.file, "version", f"clashes with {clash.source_file}"))
            continue
        existing = (await session.execute(
            select(CatalogVersion).where(CatalogVersion.region_code == region,
                                         CatalogVersion.version == doc.version))).scalar_one_or_none()
        if existing is not None:
            if existing.sha256 == item.sha256:
                outcomes.append(LoadOutcome(item.file, region, doc.version, "unchanged"))
            else:
                problems.append(CatalogProblem(
                    item.file, "version",
                    f"version {doc.version!r} of region {region} is already loaded with other content; "
                    "loaded versions never change, give this file a new version"))
            continue
        same_day = (await session.execute(
            select(CatalogVersion.version).where(CatalogVersion.region_code == region,
                                                 CatalogVersion.effective_from == doc.effective_from))
                    ).scalar_one_or_none()
        if same_day is not None:
            problems.append(CatalogProblem(
                item.file, "effective_from",
                f"version {same_day!r} of region {region} already takes effect on {doc.effective_from}"))
            continue
        pending.append(CatalogVersion(
            region_code=region, version=doc.version, effective_from=doc.effective_from,
            sha256=item.sha256, source_file=item.file, document=doc.model_dump(mode="json"),
            loaded_at=utcnow()))
        outcomes.append(LoadOutcome(item.file, region, doc.version, "loaded"))
    if problems:
        raise CatalogInvalid(problems)
    session.add_all(pending)
    await session.flush()
    return outcomes


async def active_catalogs(session: AsyncSession, *, on: date | None = None) -> list[ActiveCatalog]:
    """The version in force in every region on `on` (today in the agency's time zone by default)."""
    day = on or local_today()
    rows = (await session.execute(
        select(CatalogVersion.id, CatalogVersion.region_code, CatalogVersion.version,
               CatalogVersion.effective_from, CatalogVersion.sha256)
        .where(CatalogVersion.effective_from <= day)
        .order_by(CatalogVersion.region_code, CatalogVersion.effective_from.desc()))).all()
    result: list[ActiveCatalog] = []
    seen: set[str] = set()
    for row in rows:
        if row.region_code in seen:
            continue
        seen.add(row.region_code)
        result.append(await _active(session, row))
    return result


def in_force(region_code: str | ColumnElement[str], day: date | BindParameter[date]) -> Select[tuple[int]]:
    """The version in force in a region on a day: the latest to have taken effect by then. A value or a
    column / `bindparam` each (the eligibility check's direct statement, mtb/direct/eligibility.py, uses
    this same select for the key's region)."""
    return (select(CatalogVersion.id)
            .where(CatalogVersion.region_code == region_code, CatalogVersion.effective_from <= day)
            .order_by(CatalogVersion.effective_from.desc()).limit(1))


async def active_catalog(session: AsyncSession, region_code: str, *, on: date | None = None) -> ActiveCatalog:
    day = on or local_today()
    row = (await session.execute(
        in_force(region_code, day).with_only_columns(*version_columns()))).first()
    if row is None:
        raise NotFound("region_not_found", f"地区 {region_code} 尚未开通门诊慢特病业务")
    active = await _active(session, row)
    _remembered(session)[active.version_id] = active  # asked for by its id later in the request
    return active


async def catalog_by_version_id(session: AsyncSession, version_id: int) -> ActiveCatalog:
    """The version an application was made under, whatever is in force today. Remembered for the rest of
    the session (a request asks several times; a loaded version never changes)."""
    known = _remembered(session)
    if (found := known.get(version_id)) is not None:
        return found
    row = (await session.execute(select(*version_columns()).where(CatalogVersion.id == version_id))).one()
    found = known[version_id] = await _active(session, row)
    return found


def version_columns() -> tuple[Any, ...]:
    """The columns of a version row that `remember_version` takes: select them beside a row that names
    its version (an application), and the version is known without a statement of its own."""
    return (CatalogVersion.id, CatalogVersion.version, CatalogVersion.effective_from, CatalogVersion.sha256)


async def remember_version(session: AsyncSession, row: Row[Any]) -> None:
    """Remember for the session the version whose `version_columns` `row` holds (read with something else)."""
    known = _remembered(session)
    if row.id not in known:
        known[row.id] = await _active(session, row)


def _remembered(session: AsyncSession) -> dict[int, ActiveCatalog]:
    """The versions this session has read, by id."""
    known: dict[int, ActiveCatalog] = session.info.setdefault("catalog_by_version_id", {})
    return known


def document_from_cache(version_id: int, sha256: str) -> CatalogDocument | None:
    return _documents.get((version_id, sha256))


def remember_document(version_id: int, sha256: str, raw: dict[str, Any]) -> CatalogDocument:
    doc = _documents[(version_id, sha256)] = CatalogDocument.model_validate(raw)
    return doc


async def _active(session: AsyncSession, row: Row[Any]) -> ActiveCatalog:
    doc = document_from_cache(row.id, row.sha256)
    if doc is None:
        raw = (await session.execute(
            select(CatalogVersion.document).where(CatalogVersion.id == row.id))).scalar_one()
        doc = remember_document(row.id, row.sha256, raw)
    return ActiveCatalog(row.id, row.version, row.effective_from, doc)


class ExamplePolicyRefused(RuntimeError):
    """Production start-up: a catalog in force still holds example values and the operator did not accept them."""


async def refuse_example_catalogs(session: AsyncSession) -> None:
    """With MTB_ENV=production and without MTB_ALLOW_EXAMPLE_POLICY=true, refuse to serve catalogs in force
    (today or later) that hold example values, listing every one."""
    settings = get_settings()
    if settings.env != "production" or settings.allow_example_policy:
        return
    today = local_today()
    rows = (await session.execute(
        select(CatalogVersion.id, CatalogVersion.region_code, CatalogVersion.version, CatalogVersion.effective_from,
               CatalogVersion.sha256, CatalogVersion.source_file)
        .order_by(CatalogVersion.region_code, CatalogVersion.effective_from.desc()))).all()
    problems: list[str] = []
    current: set[str] = set()
    for row in rows:
        if row.effective_from <= today:
            if row.region_code in current:
                continue  # superseded: serves only the applications made under it
            current.add(row.region_code)
        doc = (await _active(session, row)).document
        problems += [f"{row.source_file}: {path}: {reason}" for path, reason in example_refusal(row.source_file, doc)]
    if problems:
        raise ExamplePolicyRefused("catalogs in force hold example values:\n" + "\n".join(problems))
