"""FHIR bulk data: one NDJSON file per resource type (`Patient.ndjson`, `Task.ndjson` …), one resource a line.

Applications are read in keyset batches (by id) with their records loaded one query per table per batch,
so memory holds one batch, plus the ids of the people already written (each Patient and Coverage is
written once). `since` keeps the applications changed on or after that local day: the application row
updated, a material added, or an event of the filing it granted (expiry, replacement, revocation).
Patients and Coverages are those of the exported applications.
"""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from datetime import date, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.models import Application
from mtb.catalog.service import ActiveCatalog
from mtb.interop import fhir
from mtb.interop.records import load_records
from mtb.interop.tables import day_start
from mtb.materials.models import Material
from mtb.qualifications.models import Qualification, QualificationEvent

RESOURCE_TYPES = ("Patient", "Coverage", "Condition", "CoverageEligibilityRequest", "Task",
                  "DocumentReference", "CoverageEligibilityResponse")
BATCH = 200


def _changed_since(at: datetime) -> ColumnElement[bool]:
    material = exists().where(Material.application_id == Application.id, Material.created_at >= at)
    filing = (exists().where(Qualification.application_id == Application.id,
                             QualificationEvent.qualification_id == Qualification.id,
                             QualificationEvent.created_at >= at))
    return or_(Application.updated_at >= at, material, filing)


async def export_fhir(sessionmaker: async_sessionmaker[AsyncSession], out: Path, *, region_code: str | None,
                      since: date | None, base_url: str, today: date, timezone: str) -> dict[str, int]:
    """Write the files into `out` (created if needed; files of the same names are replaced) and return
    how many resources of each type were written."""
    out.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(RESOURCE_TYPES, 0)
    people: set[uuid.UUID] = set()
    catalogs: dict[int, ActiveCatalog] = {}
    query = select(Application).order_by(Application.id).limit(BATCH)
    if region_code is not None:
        query = query.where(Application.region_code == region_code)
    if since is not None:
        query = query.where(_changed_since(day_start(since, timezone)))
    with ExitStack() as stack:
        files: dict[str, IO[str]] = {t: stack.enter_context((out / f"{t}.ndjson").open("w", encoding="utf-8"))
                                     for t in RESOURCE_TYPES}
        last: uuid.UUID | None = None
        while True:
            async with sessionmaker() as session:
                page = query if last is None else query.where(Application.id > last)
                apps = list((await session.execute(page)).scalars())
                records = await load_records(session, apps, catalogs=catalogs)
            if not apps:
                break
            last = apps[-1].id
            for rec in records:
                for resource in fhir.application_resources(rec, base_url=base_url, today=today,
                                                           with_eligibility=True):
                    kind = resource["resourceType"]
                    if kind in ("Patient", "Coverage") and rec.person.id in people:
                        continue
                    files[kind].write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
                    counts[kind] += 1
                people.add(rec.person.id)
    return counts
