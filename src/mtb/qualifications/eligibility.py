"""The hospitals' question at every settlement: does this person hold a valid filing for this disease
at this hospital on this day?

A hospital is answered only what it needs (issue 16): covered here or not, and why not among its own
filings: `no_filing` (none for this disease at this hospital), `not_yet_effective`, `expired`,
`revoked`, `replaced` (changed to another hospital or renewed). A filing at another hospital is not
shown at all: neither its hospital nor its dates, and not even that it exists (which would tell the
person holds the disease). The filing's details come only with a yes. A key asks about its own hospital
only, within its region; at most MTB_ELIGIBILITY_PER_MINUTE questions a minute (qualifications/ratelimit.py).

`POST /api/v1/eligibility` takes the question as a JSON body, so the ID number stays out of access logs
and proxies' logs; `GET` with a query string is deprecated (answered the same, with a `Deprecation`
header). Each query's access line names the hospital, the masked ID number, the disease and the answer.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mtb.catalog.examples import Basis, review_period_basis
from mtb.deprecation import deprecated
from mtb.direct.applications import catalog_document
from mtb.direct.eligibility import Filing, eligibility_facts
from mtb.direct.params import header, hot_route_openapi, query_model
from mtb.errors import Forbidden, NotFound, Unauthorized, Unprocessable
from mtb.http.edge import LOG_FIELDS
from mtb.identity import idnumber
from mtb.qualifications.keys import hash_key
from mtb.qualifications.ratelimit import KeyRate
from mtb.qualifications.schemas import EligibilityOut
from mtb.qualifications.service import covers
from mtb.timeutil import Day, local_today

router = APIRouter(prefix="/api/v1/eligibility", tags=["eligibility"])
log = logging.getLogger("mtb.eligibility")

REASONS = {
    "no_filing": "该参保人在本院没有此病种的门诊慢特病备案",
    "not_yet_effective": "备案尚未生效",
    "expired": "备案已过期",
    "revoked": "备案已撤销",
    "replaced": "备案已变更或续期，在本院不再有效",
}
# The GET with the ID number in the query string: deprecated since 2026-12-06 (docs/api.md); the edge
# answers it with Deprecation (RFC 9745), Sunset (RFC 8594) and a Link to the POST (mtb/deprecation.py).
GET_DEPRECATION = deprecated("2026-12-06", "2027-06-06", successor="/api/v1/eligibility")


def _not_covered_reason(rows: list[Filing], day: date) -> str:
    """Why none of the filings at this hospital covers `day`."""
    if any(q.effective_from > day for q in rows):
        return "not_yet_effective"
    ended = [q for q in rows if q.effective_from <= day]
    if not ended:
        return "no_filing"
    last = max(ended, key=lambda q: q.effective_from)
    return {"revoked": "revoked", "replaced": "replaced"}.get(last.status, "expired")


class EligibilityQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id_number: Annotated[str, Field(min_length=1, max_length=32)]
    disease_code: Annotated[str, Field(min_length=1, max_length=64)]
    hospital_code: Annotated[str | None, Field(max_length=64)] = None
    on: Day | None = None


API_KEY_HEADER = {"name": "X-Api-Key", "in": "header", "required": False,
                  "description": "定点医疗机构的接口密钥", "schema": {"type": "string", "maxLength": 200}}


@router.get("", response_model=EligibilityOut, deprecated=True,
            openapi_extra=hot_route_openapi(query=EligibilityQuery, headers=(API_KEY_HEADER,))
            | GET_DEPRECATION["openapi_extra"])
async def eligibility(request: Request) -> Any:
    """Deprecated: the ID number in the query string reaches access logs; use `POST` with a JSON body.
    Read through the direct reader in one batch (the hot path at every settlement; see mtb/direct)."""
    x_api_key = _api_key(request)
    query = query_model(request, EligibilityQuery)
    return await _answer(request, x_api_key, query)


@router.post("", response_model=EligibilityOut,
             openapi_extra={"parameters": [API_KEY_HEADER]})
async def ask_eligibility(request: Request, body: EligibilityQuery) -> Any:
    """The question in a JSON body (`id_number`, `disease_code`, optional `hospital_code` and `on`)."""
    return await _answer(request, _api_key(request), body)


def _api_key(request: Request) -> str:
    x_api_key = header(request, b"x-api-key")
    if not x_api_key:
        raise Unauthorized("api_key_required", "需要定点医疗机构的 X-Api-Key")
    if len(x_api_key) > 200:
        raise Unauthorized("api_key_invalid", "X-Api-Key 无效或已停用")
    return x_api_key


def _rate(request: Request) -> KeyRate:
    state = request.app.state
    rate = getattr(state, "eligibility_rate", None)
    if rate is None:
        rate = state.eligibility_rate = KeyRate(state.settings.eligibility_per_minute)
    return rate


def _last_ended(rows: list[Filing], day: date) -> Filing | None:
    ended = [q for q in rows if q.effective_from <= day]
    return max(ended, key=lambda q: q.effective_from) if ended else None


async def _basis(request: Request, decided_by: Filing | None) -> Basis:
    """"example" when the answer turns on a validity end computed from an example re-review period."""
    if decided_by is None or decided_by.valid_until is None:
        return "policy"
    doc = await catalog_document(request.app.state.direct, decided_by.catalog_version_id, decided_by.catalog_sha256)
    return review_period_basis(doc.disease(decided_by.disease_code))


async def _answer(request: Request, x_api_key: str, query: EligibilityQuery) -> Response:
    key_hash = hash_key(x_api_key)
    _rate(request).take(key_hash)
    id_number, disease_code, hospital_code, on = query.id_number, query.disease_code, query.hospital_code, query.on
    day = on or local_today()
    number = idnumber.normalize(id_number)
    valid = idnumber.is_valid(number)
    facts = await eligibility_facts(request.app.state.direct, key_hash=key_hash,
                                    lookup_hash=idnumber.lookup_hash(number) if valid else "",
                                    disease_code=disease_code, day=day)
    if facts is None:
        raise Unauthorized("api_key_invalid", "X-Api-Key 无效或已停用")
    if facts.catalog is None:
        raise NotFound("region_not_found", f"地区 {facts.region_code} 尚未开通门诊慢特病业务")
    if hospital_code and hospital_code != facts.hospital_code:
        if facts.catalog.hospital(hospital_code) is None:
            raise Forbidden("hospital_other_region", "只能查询本院所在地区定点医疗机构的备案")
        raise Forbidden("hospital_not_yours", "只能查询本院的备案")
    if not valid:
        raise Unprocessable("invalid_id_number", "身份证号格式不正确")
    here = [q for q in facts.filings if q.hospital_code == facts.hospital_code]  # nothing of other hospitals
    covering = next((q for q in here if covers(q, day)), None)
    reason = None if covering is not None else _not_covered_reason(here, day)
    setattr(request.state, LOG_FIELDS, {  # in the request's access line (mtb/http/edge.py)
        "hospital": facts.hospital_code, "id_number": idnumber.mask(number), "disease": disease_code,
        "on": day.isoformat(), "eligible": reason is None, "reason": reason})
    qualification = None
    if covering is not None:
        qualification = {
            "id": str(covering.id), "id_number_masked": idnumber.mask(number), "disease_code": covering.disease_code,
            "hospital_code": covering.hospital_code, "insurance_type": covering.insurance_type,
            "status": covering.status, "effective_from": covering.effective_from.isoformat(),
            "valid_until": covering.valid_until.isoformat() if covering.valid_until else None}
    out = EligibilityOut(eligible=reason is None, reason=reason, reason_text=REASONS.get(reason) if reason else None,
                         qualification=qualification, reimbursement=covering.benefits if covering is not None else [],
                         basis=await _basis(request, (covering or _last_ended(here, day))
                                            if reason in (None, "expired") else None))
    return Response(out.model_dump_json(), media_type="application/json")
