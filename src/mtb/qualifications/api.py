"""A person's filings (qualifications) with the catalog's benefit data for their insurance type."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from mtb.catalog.service import catalog_by_version_id
from mtb.db import DBSession
from mtb.identity.auth import CurrentPerson
from mtb.qualifications.service import list_for_person

router = APIRouter(prefix="/api/v1/qualifications", tags=["qualifications"])


class QualificationOut(BaseModel):
    id: uuid.UUID
    application_id: uuid.UUID
    region_code: str
    disease_code: str
    disease_name: str
    hospital_code: str
    hospital_name: str
    insurance_type: str
    status: str
    effective_at: datetime
    effective_from: date
    valid_until: date | None
    review_period_years: int | None
    review_period_is_example: bool
    benefits: list[dict[str, Any]]


@router.get("", response_model=list[QualificationOut])
async def my_qualifications(person: CurrentPerson, session: DBSession) -> list[QualificationOut]:
    out = []
    for q in await list_for_person(session, person.id):
        doc = (await catalog_by_version_id(session, q.catalog_version_id)).document
        disease = doc.disease(q.disease_code)
        hospital = doc.hospital(q.hospital_code)
        out.append(QualificationOut(
            id=q.id, application_id=q.application_id, region_code=q.region_code, disease_code=q.disease_code,
            disease_name=disease.name if disease else q.disease_code, hospital_code=q.hospital_code,
            hospital_name=hospital.name if hospital else q.hospital_code, insurance_type=q.insurance_type,
            status=q.status, effective_at=q.effective_at, effective_from=q.effective_from,
            valid_until=q.valid_until, review_period_years=q.review_period_years,
            review_period_is_example=bool(disease and disease.review_period_is_example), benefits=q.benefits))
    return out
