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

from mtb.catalog.document import CatalogDocument
from mtb.direct.applications import catalog_document
from mtb.direct.reader import DirectReader, as_date, as_date_or_none, as_json, as_uuid

# One statement: the key (no row when unknown or revoked), the catalog in force in its region, and one row
# per filing of the person for the disease in that region (a single row of NULLs when there is none).
FACTS = (
    "SELECT k.hospital_code, k.region_code, c.id, c.sha256, "
    "q.id, q.disease_code, q.hospital_code, q.insurance_type, q.status, q.effective_from, q.valid_until, "
    "q.ended_on, q.benefits, q.catalog_version_id, cv.sha256 "
    "FROM hospital_keys k "
    "LEFT JOIN catalog_versions c ON c.id = (SELECT f.id FROM catalog_versions f WHERE f.region_code = k.region_code "
    "AND f.effective_from <= ? ORDER BY f.effective_from DESC LIMIT 1) "
    "LEFT JOIN insured_persons p ON p.id_number_hash = ? "
    "LEFT JOIN qualifications q ON q.person_id = p.id AND q.disease_code = ? AND q.region_code = k.region_code "
    "LEFT JOIN catalog_versions cv ON cv.id = q.catalog_version_id "
    "WHERE k.key_hash = ? AND k.revoked_at IS NULL")


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
    rows = await reader.all(FACTS, (reader.date_param(day), lookup_hash, disease_code, key_hash))
    if not rows:
        return None
    hospital_code, region_code, catalog_id, catalog_sha256 = rows[0][:4]
    catalog = await catalog_document(reader, catalog_id, catalog_sha256) if catalog_id is not None else None
    return EligibilityFacts(hospital_code, region_code, catalog, [
        Filing(as_uuid(r[4]), r[5], r[6], r[7], r[8], as_date(r[9]), as_date_or_none(r[10]),
               as_date_or_none(r[11]), as_json(r[12]) or [], r[13], r[14]) for r in rows if r[4] is not None])
