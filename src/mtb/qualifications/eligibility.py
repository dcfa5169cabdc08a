"""The hospitals' question at every settlement: does this person hold a valid filing for this disease
at this hospital on this day?

Answers are scoped to the key's region; the reason when not eligible is one of `no_filing`,
`not_yet_effective`, `expired`, `revoked`, `other_hospital`. Each query is logged with the ID number
masked.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mtb.direct.applications import catalog_document
from mtb.direct.eligibility import Filing, eligibility_facts
from mtb.direct.params import header, hot_route_openapi, query_model
from mtb.errors import Forbidden, NotFound, Unauthorized, Unprocessable
from mtb.identity import idnumber
from mtb.qualifications.keys import hash_key
from mtb.qualifications.schemas import EligibilityOut
from mtb.qualifications.service import covers
from mtb.timeutil import Day, local_today

router = APIRouter(prefix="/api/v1/eligibility", tags=["eligibility"])
log = logging.getLogger("mtb.eligibility")

REASONS = {
    "no_filing": "该参保人没有此病种的门诊慢特病备案",
    "not_yet_effective": "备案尚未生效",
    "expired": "备案已过期",
    "revoked": "备案已撤销",
    "other_hospital": "备案的定点医疗机构不是本院",
}


def _not_covered_reason(rows: list[Filing], day: date) -> str:
    if any(q.effective_from > day for q in rows):
        return "not_yet_effective"
    ended = [q for q in rows if q.effective_from <= day]
    if not ended:
        return "no_filing"
    last = max(ended, key=lambda q: q.effective_from)
    return "revoked" if last.status == "revoked" else "expired"


class EligibilityQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id_number: Annotated[str, Field(min_length=1, max_length=32)]
    disease_code: Annotated[str, Field(min_length=1, max_length=64)]
    hospital_code: Annotated[str | None, Field(max_length=64)] = None
    on: Day | None = None


API_KEY_HEADER = {"name": "X-Api-Key", "in": "header", "required": False,
                  "description": "定点医疗机构的接口密钥", "schema": {"type": "string", "maxLength": 200}}


@router.get("", response_model=EligibilityOut,
            openapi_extra=hot_route_openapi(query=EligibilityQuery, headers=(API_KEY_HEADER,)))
async def eligibility(request: Request) -> Any:
    """Read through the direct reader in one batch (the hot path at every settlement; see mtb/direct)."""
    x_api_key = header(request, b"x-api-key")
    if not x_api_key:
        raise Unauthorized("api_key_required", "需要定点医疗机构的 X-Api-Key")
    if len(x_api_key) > 200:
        raise Unauthorized("api_key_invalid", "X-Api-Key 无效或已停用")
    query = query_model(request, EligibilityQuery)
    id_number, disease_code, hospital_code, on = query.id_number, query.disease_code, query.hospital_code, query.on
    day = on or local_today()
    number = idnumber.normalize(id_number)
    valid = idnumber.is_valid(number)
    facts = await eligibility_facts(request.app.state.direct, key_hash=hash_key(x_api_key),
                                    lookup_hash=idnumber.lookup_hash(number) if valid else "",
                                    disease_code=disease_code, day=day)
    if facts is None:
        raise Unauthorized("api_key_invalid", "X-Api-Key 无效或已停用")
    if facts.catalog is None:
        raise NotFound("region_not_found", f"地区 {facts.region_code} 尚未开通门诊慢特病业务")
    asked_hospital = hospital_code or facts.hospital_code
    if facts.catalog.hospital(asked_hospital) is None:
        raise Forbidden("hospital_other_region", "只能查询本院所在地区定点医疗机构的备案")
    if not valid:
        raise Unprocessable("invalid_id_number", "身份证号格式不正确")
    rows = facts.filings
    covering = next((q for q in rows if covers(q, day)), None)
    reason: str | None
    if covering is None:
        reason = _not_covered_reason(rows, day)
    elif covering.hospital_code != asked_hospital:
        reason = "other_hospital"
    else:
        reason = None
    log.info("eligibility query", extra={
        "hospital": facts.hospital_code, "id_number": idnumber.mask(number), "disease": disease_code,
        "asked_hospital": asked_hospital, "on": day.isoformat(), "eligible": reason is None, "reason": reason})
    shown = covering or (max(rows, key=lambda q: q.effective_from) if rows else None)
    qualification = None
    if shown is not None:
        shown_doc = await catalog_document(request.app.state.direct, shown.catalog_version_id, shown.catalog_sha256)
        shown_hospital = shown_doc.hospital(shown.hospital_code)
        qualification = {
            "id": str(shown.id), "id_number_masked": idnumber.mask(number), "disease_code": shown.disease_code,
            "hospital_code": shown.hospital_code,
            "hospital_name": shown_hospital.name if shown_hospital else shown.hospital_code,
            "insurance_type": shown.insurance_type, "status": shown.status,
            "effective_from": shown.effective_from.isoformat(),
            "valid_until": shown.valid_until.isoformat() if shown.valid_until else None,
            "ended_on": shown.ended_on.isoformat() if shown.ended_on else None}
    out = EligibilityOut(eligible=reason is None, reason=reason, reason_text=REASONS.get(reason) if reason else None,
                         qualification=qualification,
                         reimbursement=covering.benefits if covering is not None and reason is None else [])
    return Response(out.model_dump_json(), media_type="application/json")
