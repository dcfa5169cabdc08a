"""Cross-region filings (异地就医备案): a person insured in one region records that they are treated in
another. MTB keeps the record the national platform would hold, so the eligibility check can ask it."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from mtb.applications.models import CrossRegionFiling
from mtb.applications.schemas import CrossRegionFilingIn, CrossRegionFilingOut
from mtb.db.engine import DBSession
from mtb.errors import Conflict, Unprocessable
from mtb.identity import idnumber
from mtb.identity.auth import CurrentPerson
from mtb.timeutil import local_today, utcnow

router = APIRouter(prefix="/api/v1/cross-region-filings", tags=["cross-region filings"])


def _out(f: CrossRegionFiling) -> CrossRegionFilingOut:
    return CrossRegionFilingOut(
        id=f.id, insured_region_code=f.insured_region_code, treatment_region_code=f.treatment_region_code,
        treatment_region_name=idnumber.region_name(f.treatment_region_code), status=f.status,
        valid_from=f.valid_from, valid_until=f.valid_until, created_at=f.created_at)


@router.post("", status_code=201, response_model=CrossRegionFilingOut)
async def create_filing(body: CrossRegionFilingIn, person: CurrentPerson, session: DBSession) -> CrossRegionFilingOut:
    if idnumber.region_name(body.treatment_region_code) is None:
        raise Unprocessable("unknown_region", "就医地区代码无效")
    if idnumber.within(person.region_code, body.treatment_region_code):
        raise Unprocessable("cross_region_not_needed", "在参保地就医无需办理异地备案")
    valid_from = body.valid_from or local_today()
    if body.valid_until is not None and body.valid_until < valid_from:
        raise Unprocessable("invalid_period", "备案结束日期不能早于开始日期")
    if body.valid_until is not None and body.valid_until < local_today():
        raise Unprocessable("invalid_period", "备案结束日期不能早于今天")
    today = local_today()
    existing = (await session.execute(select(CrossRegionFiling.id).where(
        CrossRegionFiling.person_id == person.id,
        CrossRegionFiling.treatment_region_code == body.treatment_region_code,
        CrossRegionFiling.status == "active",
        (CrossRegionFiling.valid_until.is_(None)) | (CrossRegionFiling.valid_until >= today)))).scalar_one_or_none()
    if existing is not None:
        raise Conflict("cross_region_filing_exists", "已有该就医地区的有效异地备案",
                       extra={"filing_id": str(existing)})
    filing = CrossRegionFiling(person_id=person.id, insured_region_code=person.region_code,
                               treatment_region_code=body.treatment_region_code, status="active",
                               valid_from=valid_from, valid_until=body.valid_until, created_at=utcnow())
    session.add(filing)
    await session.flush()
    return _out(filing)


@router.get("", response_model=list[CrossRegionFilingOut])
async def my_filings(person: CurrentPerson, session: DBSession) -> list[CrossRegionFilingOut]:
    rows = (await session.execute(select(CrossRegionFiling).where(CrossRegionFiling.person_id == person.id)
                                  .order_by(CrossRegionFiling.created_at.desc()))).scalars()
    return [_out(f) for f in rows]
