"""The facts behind one eligibility answer, read in one statement: the hospital's key, the catalog in force
in the key's region, and the person's filings for the disease in that region with the catalog version
each was granted under. The rules that turn these facts into an answer are in
qualifications/eligibility.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import aliased

from mtb.catalog.document import CatalogDocument
from mtb.catalog.models import CatalogVersion
from mtb.catalog.service import in_force
from mtb.direct.applications import catalog_document
from mtb.direct.reader import DirectReader, as_date, as_date_or_none, as_json, as_uuid
from mtb.direct.statements import Statement
from mtb.identity.models import InsuredPerson
from mtb.qualifications.models import HospitalKey, Qualification

_c, _cv, _p = aliased(CatalogVersion, name="c"), aliased(CatalogVersion, name="cv"), aliased(InsuredPerson, name="p")
_q = aliased(Qualification, name="q")
# One statement: the key (no row when unknown or revoked), the catalog in force in its region (the
# session path's select, catalog/service.py in_force), and one row per filing of the person for the
# disease in that region (a single row of NULLs when there is none).
FACTS = Statement("facts", select(
    HospitalKey.hospital_code.label("key_hospital_code"), HospitalKey.region_code, _c.id.label("catalog_id"),
    _c.sha256.label("catalog_sha256"), _q.id, _q.disease_code, _q.hospital_code, _q.insurance_type, _q.status,
    _q.effective_from, _q.valid_until, _q.ended_on, _q.benefits, _q.catalog_version_id,
    _cv.sha256.label("filing_catalog_sha256"))
    .select_from(HospitalKey)
    .outerjoin(_c, _c.id == in_force(HospitalKey.region_code, bindparam("day")).scalar_subquery())
    .outerjoin(_p, _p.id_number_hash == bindparam("lookup_hash"))
    .outerjoin(_q, and_(_q.person_id == _p.id, _q.disease_code == bindparam("disease_code"),
                        _q.region_code == HospitalKey.region_code))
    .outerjoin(_cv, _cv.id == _q.catalog_version_id)
    .where(HospitalKey.key_hash == bindparam("key_hash"), HospitalKey.revoked_at.is_(None)))


@dataclass(frozen=True, slots=True)
class Filing:
    id: uuid.UUID
    disease_code: str
    hospital_code: str
    insurance_type: str
    status: str
    effective_from: date
    valid_until: date | None
    ended_on: date | None
    benefits: list[dict[str, Any]]
    catalog_version_id: int
    catalog_sha256: str


@dataclass(frozen=True, slots=True)
class EligibilityFacts:
    hospital_code: str
    region_code: str
    catalog: CatalogDocument | None
    filings: list[Filing]


async def eligibility_facts(reader: DirectReader, *, key_hash: str, lookup_hash: str, disease_code: str,
                            day: date) -> EligibilityFacts | None:
    """None when the key is unknown or revoked."""
    rows = await reader.all(FACTS, {"day": reader.date_param(day), "lookup_hash": lookup_hash,
                                    "disease_code": disease_code, "key_hash": key_hash})
    if not rows:
        return None
    k = rows[0]
    catalog = await catalog_document(reader, k.catalog_id, k.catalog_sha256) if k.catalog_id is not None else None
    return EligibilityFacts(k.key_hospital_code, k.region_code, catalog, [
        Filing(id=as_uuid(r.id), disease_code=r.disease_code, hospital_code=r.hospital_code,
               insurance_type=r.insurance_type, status=r.status, effective_from=as_date(r.effective_from),
               valid_until=as_date_or_none(r.valid_until), ended_on=as_date_or_none(r.ended_on),
               benefits=as_json(r.benefits) or [], catalog_version_id=r.catalog_version_id,
               catalog_sha256=r.filing_catalog_sha256) for r in rows if r.id is not None])
