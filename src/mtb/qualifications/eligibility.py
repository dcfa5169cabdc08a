"""The hospitals' question at every settlement: does this person hold a valid filing for this disease
at this hospital on this day?

Answers are scoped to the key's region; the reason when not eligible is one of `no_filing`,
`not_yet_effective`, `expired`, `revoked`, `other_hospital`. Each query is logged with the ID number
masked.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from mtb.catalog.service import active_catalog, catalog_by_version_id
from mtb.db import DBSession
from mtb.errors import Forbidden, Unprocessable
from mtb.identity import idnumber
from mtb.identity.models import InsuredPerson
from mtb.qualifications.keys import CurrentHospital
from mtb.qualifications.models import Qualification
from mtb.qualifications.schemas import EligibilityOut
from mtb.qualifications.service import covers
from mtb.timeutil import local_today

router = APIRouter(prefix="/api/v1/eligibility", tags=["eligibility"])
log = logging.getLogger("mtb.eligibility")

REASONS = {
    "no_filing": "该参保人没有此病种的门诊慢特病备案",
    "not_yet_effective": "备案尚未生效",
    "expired": "备案已过期",
    "revoked": "备案已撤销",
    "other_hospital": "备案的定点医疗机构不是本院",
}


def _not_covered_reason(rows: list[Qualification], day: date) -> str:
    if any(q.effective_from > day for q in rows):
        return "not_yet_effective"
    ended = [q for q in rows if q.effective_from <= day]
    if not ended:
        return "no_filing"
    last = max(ended, key=lambda q: q.effective_from)
    return "revoked" if last.status == "revoked" else "expired"


@router.get("", response_model=EligibilityOut)
async def eligibility(hospital: CurrentHospital, session: DBSession,
                      id_number: Annotated[str, Query(min_length=1, max_length=32)],
                      disease_code: Annotated[str, Query(min_length=1, max_length=64)],
                      hospital_code: Annotated[str | None, Query(max_length=64)] = None,
                      on: date | None = None) -> EligibilityOut:
    asked_hospital = hospital_code or hospital.hospital_code
    doc = (await active_catalog(session, hospital.region_code)).document
    if doc.hospital(asked_hospital) is None:
        raise Forbidden("hospital_other_region", "只能查询本院所在地区定点医疗机构的备案")
    day = on or local_today()
    number = idnumber.normalize(id_number)
    if not idnumber.is_valid(number):
        raise Unprocessable("invalid_id_number", "身份证号格式不正确")
    person = (await session.execute(select(InsuredPerson).where(
        InsuredPerson.id_number_hash == idnumber.lookup_hash(number)))).scalar_one_or_none()
    rows: list[Qualification] = []
    if person is not None:
        rows = list((await session.execute(select(Qualification).where(
            Qualification.person_id == person.id, Qualification.disease_code == disease_code,
            Qualification.region_code == hospital.region_code))).scalars())
    covering = next((q for q in rows if covers(q, day)), None)
    reason: str | None
    if covering is None:
        reason = _not_covered_reason(rows, day)
    elif covering.hospital_code != asked_hospital:
        reason = "other_hospital"
    else:
        reason = None
    log.info("eligibility query", extra={
        "hospital": hospital.hospital_code, "id_number": idnumber.mask(number), "disease": disease_code,
        "asked_hospital": asked_hospital, "on": day.isoformat(), "eligible": reason is None, "reason": reason})
    shown = covering or (max(rows, key=lambda q: q.effective_from) if rows else None)
    qualification = None
    if shown is not None:
        shown_doc = (await catalog_by_version_id(session, shown.catalog_version_id)).document
        shown_hospital = shown_doc.hospital(shown.hospital_code)
        qualification = {
            "id": str(shown.id), "id_number_masked": idnumber.mask(number), "disease_code": shown.disease_code,
            "hospital_code": shown.hospital_code,
            "hospital_name": shown_hospital.name if shown_hospital else shown.hospital_code,
            "insurance_type": shown.insurance_type, "status": shown.status,
            "effective_from": shown.effective_from.isoformat(),
            "valid_until": shown.valid_until.isoformat() if shown.valid_until else None,
            "ended_on": shown.ended_on.isoformat() if shown.ended_on else None}
    return EligibilityOut(eligible=reason is None, reason=reason, reason_text=REASONS.get(reason) if reason else None,
                          qualification=qualification,
                          reimbursement=covering.benefits if covering is not None and reason is None else [])
