"""A person's filings; changing and renewing them; revocation by an administrator."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from mtb.applications.actors import Actor
from mtb.applications.schemas import ApplicationOut
from mtb.applications.views import application_out
from mtb.db.engine import DBSession
from mtb.errors import NotFound
from mtb.identity.auth import CurrentPerson, require_staff
from mtb.identity.models import StaffRole, StaffUser
from mtb.qualifications.lifecycle import start_change, start_renewal
from mtb.qualifications.models import Qualification
from mtb.qualifications.schemas import ChangeIn, QualificationOut, RenewIn, RevokeIn
from mtb.qualifications.service import get_owned, list_for_person, revoke
from mtb.qualifications.views import qualification_out
from mtb.timeutil import local_today

router = APIRouter(prefix="/api/v1/qualifications", tags=["qualifications"])
admin_router = APIRouter(prefix="/api/v1/admin/qualifications", tags=["administration"])

Admin = Annotated[StaffUser, Depends(require_staff(StaffRole.admin))]


def _soon(request: Request) -> int:
    days: int = request.app.state.settings.expiring_soon_days
    return days


@router.get("", response_model=list[QualificationOut])
async def my_qualifications(person: CurrentPerson, session: DBSession, request: Request) -> list[QualificationOut]:
    today = local_today()
    return [await qualification_out(session, q, today=today, expiring_soon_days=_soon(request))
            for q in await list_for_person(session, person.id)]


@router.get("/{qualification_id}", response_model=QualificationOut)
async def my_qualification(qualification_id: uuid.UUID, person: CurrentPerson, session: DBSession,
                           request: Request) -> QualificationOut:
    q = await get_owned(session, person.id, qualification_id)
    return await qualification_out(session, q, today=local_today(), expiring_soon_days=_soon(request))


@router.post("/{qualification_id}/change", status_code=201, response_model=ApplicationOut)
async def change(qualification_id: uuid.UUID, body: ChangeIn, person: CurrentPerson,
                 session: DBSession) -> ApplicationOut:
    """Start a change of hospital: an application of kind `change`, submitted and reviewed as usual."""
    q = await get_owned(session, person.id, qualification_id)
    app = await start_change(session, person=person, q=q, hospital_code=body.hospital_code, channel=body.channel)
    return await application_out(session, app)


@router.post("/{qualification_id}/renew", status_code=201, response_model=ApplicationOut)
async def renew(qualification_id: uuid.UUID, person: CurrentPerson, session: DBSession,
                body: RenewIn | None = None) -> ApplicationOut:
    """Start a renewal (opens before expiry, stays open for a grace period after it)."""
    q = await get_owned(session, person.id, qualification_id)
    app = await start_renewal(session, person=person, q=q, hospital_code=body.hospital_code if body else None,
                              channel=body.channel if body else None)
    return await application_out(session, app)


@admin_router.post("/{qualification_id}/revoke", response_model=QualificationOut)
async def revoke_qualification(qualification_id: uuid.UUID, body: RevokeIn, staff: Admin, session: DBSession,
                               request: Request) -> QualificationOut:
    q = (await session.execute(select(Qualification).where(
        Qualification.id == qualification_id, Qualification.region_code == staff.region_code))).scalar_one_or_none()
    if q is None:
        raise NotFound("qualification_not_found", "备案不存在")
    await revoke(session, q, actor=Actor.of_staff(staff), reason=body.reason)
    return await qualification_out(session, q, today=local_today(), expiring_soon_days=_soon(request))
