"""Starting a change or a renewal: an application of that kind, reviewed like any other."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.schemas import ApplicationCreate
from mtb.applications.service import create_application
from mtb.catalog.document import CatalogDocument
from mtb.catalog.service import active_catalog
from mtb.errors import Unprocessable
from mtb.identity.models import InsuredPerson
from mtb.qualifications.models import Qualification
from mtb.qualifications.service import check_changeable, check_renewable
from mtb.timeutil import local_today


def _channel(doc: CatalogDocument, requested: str | None) -> str:
    if requested:
        return requested
    return next(c.code for c in doc.channels if c.kind == "online")


async def _laterality(session: AsyncSession, q: Qualification) -> str | None:
    return (await session.execute(select(Application.laterality).where(
        Application.id == q.application_id))).scalar_one()


async def start_change(session: AsyncSession, *, person: InsuredPerson, q: Qualification, hospital_code: str,
                       channel: str | None) -> Application:
    doc = (await active_catalog(session, q.region_code)).document
    check_changeable(q, doc, local_today())
    if hospital_code == q.hospital_code:
        raise Unprocessable("same_hospital", "新选择的医院与当前备案医院相同")
    payload = ApplicationCreate(region_code=q.region_code, disease_code=q.disease_code, hospital_code=hospital_code,
                                channel=_channel(doc, channel), laterality=await _laterality(session, q))
    created = await create_application(session, actor=Actor.of_person(person), actor_person=person,
                                       payload=payload, kind="change", qualification_id=q.id)
    return created.app


async def start_renewal(session: AsyncSession, *, person: InsuredPerson, q: Qualification,
                        hospital_code: str | None, channel: str | None) -> Application:
    doc = (await active_catalog(session, q.region_code)).document
    check_renewable(q, doc, local_today())
    payload = ApplicationCreate(region_code=q.region_code, disease_code=q.disease_code,
                                hospital_code=hospital_code or q.hospital_code, channel=_channel(doc, channel),
                                laterality=await _laterality(session, q))
    created = await create_application(session, actor=Actor.of_person(person), actor_person=person,
                                       payload=payload, kind="renewal", qualification_id=q.id)
    return created.app
