"""Creating the qualification an approval grants, and reading a person's qualifications."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.models import Application
from mtb.catalog.service import catalog_by_version_id
from mtb.errors import Conflict
from mtb.identity.models import InsuredPerson
from mtb.qualifications.models import Qualification, QualificationStatus
from mtb.timeutil import local_date, utcnow


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def valid_until(effective: date, period_years: int | None) -> date | None:
    """The last day of a qualification of `period_years` starting on `effective` (None: no end)."""
    if period_years is None:
        return None
    return add_years(effective, period_years) - timedelta(days=1)


async def grant(session: AsyncSession, app: Application, *, at: datetime) -> Qualification:
    """The filing takes effect at the moment of approval (domain.md: 审核通过的，备案立即生效)."""
    catalog = await catalog_by_version_id(session, app.catalog_version_id)
    disease = catalog.document.disease(app.disease_code)
    assert disease is not None
    person = await session.get(InsuredPerson, app.beneficiary_id)
    assert person is not None
    active = (await session.execute(select(Qualification.id).where(
        Qualification.person_id == person.id, Qualification.disease_code == app.disease_code,
        Qualification.status == QualificationStatus.active.value))).scalar_one_or_none()
    if active is not None:
        raise Conflict("qualification_exists", "该参保人已有此病种的有效备案",
                       extra={"qualification_id": str(active)})
    effective = local_date(at)
    benefits = [b.model_dump(mode="json") for b in disease.benefits if b.insurance_type == person.insurance_type]
    qualification = Qualification(
        person_id=person.id, application_id=app.id, region_code=app.region_code,
        catalog_version_id=app.catalog_version_id, disease_code=app.disease_code,
        hospital_code=app.hospital_code, insurance_type=person.insurance_type,
        status=QualificationStatus.active.value, effective_at=at, effective_from=effective,
        valid_until=valid_until(effective, disease.review_period_years),
        review_period_years=disease.review_period_years, benefits=benefits, created_at=utcnow())
    session.add(qualification)
    await session.flush()
    return qualification


async def active_qualification(session: AsyncSession, person_id: uuid.UUID, disease_code: str) -> uuid.UUID | None:
    return (await session.execute(select(Qualification.id).where(
        Qualification.person_id == person_id, Qualification.disease_code == disease_code,
        Qualification.status == QualificationStatus.active.value))).scalar_one_or_none()


async def list_for_person(session: AsyncSession, person_id: uuid.UUID) -> list[Qualification]:
    return list((await session.execute(select(Qualification).where(Qualification.person_id == person_id)
                                       .order_by(Qualification.effective_at.desc()))).scalars())
