"""A qualification as its owner sees it, with the derived "expiring soon" status and its history."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.catalog.examples import review_period_basis
from mtb.catalog.service import active_catalog, catalog_by_version_id
from mtb.qualifications.models import Qualification, QualificationEvent
from mtb.qualifications.schemas import STATUS_LABELS, QualificationEventOut, QualificationOut
from mtb.qualifications.service import renewal_window


def display_status(q: Qualification, today: date, expiring_soon_days: int) -> str:
    if q.status == "active" and q.valid_until is not None and q.valid_until - today <= timedelta(days=expiring_soon_days):
        return "expiring_soon"
    return q.status


async def qualification_out(session: AsyncSession, q: Qualification, *, today: date,
                            expiring_soon_days: int) -> QualificationOut:
    doc = (await catalog_by_version_id(session, q.catalog_version_id)).document
    disease, hospital = doc.disease(q.disease_code), doc.hospital(q.hospital_code)
    current = (await active_catalog(session, q.region_code)).document
    window = renewal_window(q, current)
    events = (await session.execute(select(QualificationEvent).where(QualificationEvent.qualification_id == q.id)
                                    .order_by(QualificationEvent.id))).scalars()
    status = display_status(q, today, expiring_soon_days)
    return QualificationOut(
        id=q.id, application_id=q.application_id, region_code=q.region_code, disease_code=q.disease_code,
        disease_name=disease.name if disease else q.disease_code, hospital_code=q.hospital_code,
        hospital_name=hospital.name if hospital else q.hospital_code, insurance_type=q.insurance_type,
        status=status, status_label=STATUS_LABELS.get(status, status), effective_at=q.effective_at,
        effective_from=q.effective_from, valid_until=q.valid_until, ended_on=q.ended_on,
        replaced_by=q.replaced_by_id, review_period_years=q.review_period_years,
        review_period_is_example=bool(disease and disease.review_period_is_example),
        valid_until_basis=review_period_basis(disease) if q.valid_until else "policy",
        renewal_opens_on=window[0] if window else None, renewal_closes_on=window[1] if window else None,
        renewal_basis="example" if window and current.renewal and current.renewal.is_example else "policy",
        benefits=q.benefits,
        history=[QualificationEventOut(action=e.action, actor_kind=e.actor_kind, reason=e.reason, detail=e.detail,
                                       at=e.created_at) for e in events])
