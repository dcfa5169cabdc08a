"""What the FHIR resources of an application are built from, loaded for a batch of applications with one
query per table, so the read API (a batch of one) and the bulk export (batches of hundreds) share a path.

Also the access rules of the FHIR reads, as query filters like the application API's (`readable_by`):
what a person may not see does not exist for them (404).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor, readable_by
from mtb.applications.models import Application, ApplicationEvent
from mtb.catalog.service import ActiveCatalog, catalog_by_version_id
from mtb.errors import NotFound
from mtb.identity.models import InsuredPerson, StaffUser
from mtb.materials.models import Material
from mtb.qualifications.models import Qualification
from mtb.review.models import ReviewDecision


@dataclass(frozen=True)
class ApplicationRecord:
    app: Application
    person: InsuredPerson                 # the beneficiary
    catalog: ActiveCatalog                # the version the application was made under
    materials: list[Material]
    events: list[ApplicationEvent]        # status changes, oldest first
    decisions: list[ReviewDecision]       # final decisions, oldest first
    qualification: Qualification | None   # the filing this application's approval granted
    staff_names: dict[uuid.UUID, str]     # usernames of the claim holder and the deciding reviewers


async def load_records(session: AsyncSession, apps: Sequence[Application], *,
                       catalogs: dict[int, ActiveCatalog] | None = None) -> list[ApplicationRecord]:
    """The records of `apps`, in their order. `catalogs` caches versions across calls (bulk export)."""
    if not apps:
        return []
    ids = [a.id for a in apps]
    catalogs = {} if catalogs is None else catalogs
    persons = {p.id: p for p in (await session.execute(
        select(InsuredPerson).where(InsuredPerson.id.in_({a.beneficiary_id for a in apps})))).scalars()}
    materials: dict[uuid.UUID, list[Material]] = defaultdict(list)
    for m in (await session.execute(select(Material).where(Material.application_id.in_(ids))
                                    .order_by(Material.created_at, Material.id))).scalars():
        materials[m.application_id].append(m)
    events: dict[uuid.UUID, list[ApplicationEvent]] = defaultdict(list)
    for e in (await session.execute(select(ApplicationEvent).where(
            ApplicationEvent.application_id.in_(ids), ApplicationEvent.action == "status")
            .order_by(ApplicationEvent.id))).scalars():
        events[e.application_id].append(e)
    decisions: dict[uuid.UUID, list[ReviewDecision]] = defaultdict(list)
    for d in (await session.execute(select(ReviewDecision).where(
            ReviewDecision.application_id.in_(ids), ReviewDecision.final.is_(True))
            .order_by(ReviewDecision.decided_at, ReviewDecision.id))).scalars():
        decisions[d.application_id].append(d)
    granted = {q.application_id: q for q in (await session.execute(
        select(Qualification).where(Qualification.application_id.in_(ids)))).scalars()}
    staff_ids = {a.claimed_by_id for a in apps if a.claimed_by_id is not None}
    staff_ids |= {d.reviewer_id for ds in decisions.values() for d in ds if d.reviewer_id is not None}
    names: dict[uuid.UUID, str] = {}
    if staff_ids:
        names = {row.id: row.username for row in (await session.execute(
            select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(staff_ids)))).all()}
    for version_id in {a.catalog_version_id for a in apps} - catalogs.keys():
        catalogs[version_id] = await catalog_by_version_id(session, version_id)
    return [ApplicationRecord(app=a, person=persons[a.beneficiary_id], catalog=catalogs[a.catalog_version_id],
                              materials=materials[a.id], events=events[a.id], decisions=decisions[a.id],
                              qualification=granted.get(a.id), staff_names=names)
            for a in apps]


def qualification_readable_by(actor: Actor) -> ColumnElement[bool]:
    """A filing is its owner's (not an agent's: as in the qualifications API) and its region's staff's."""
    if actor.kind == "person":
        return Qualification.person_id == actor.id
    if actor.kind == "staff":
        return Qualification.region_code == actor.region_code
    raise ValueError("the system reads without a filter")


async def readable_person(session: AsyncSession, actor: Actor,
                          person_id: uuid.UUID) -> tuple[InsuredPerson, Application | None]:
    """A person the asker may see, with the latest application that shows them to the asker (None when
    people ask about themselves): themself, or the beneficiary of an application the asker may read."""
    app = (await session.execute(
        select(Application).where(Application.beneficiary_id == person_id, readable_by(actor))
        .order_by(Application.created_at.desc(), Application.id).limit(1))).scalar_one_or_none()
    if app is None and not (actor.kind == "person" and actor.id == person_id):
        raise NotFound("person_not_found", "参保人不存在")
    person = await session.get(InsuredPerson, person_id)
    if person is None:
        raise NotFound("person_not_found", "参保人不存在")
    return person, app


async def readable_material(session: AsyncSession, actor: Actor,
                            material_id: uuid.UUID) -> tuple[Material, Application]:
    row = (await session.execute(
        select(Material, Application).join(Application, Application.id == Material.application_id)
        .where(Material.id == material_id, readable_by(actor)))).one_or_none()
    if row is None:
        raise NotFound("document_not_found", "材料不存在")
    return row[0], row[1]


async def readable_qualification(session: AsyncSession, actor: Actor,
                                 qualification_id: uuid.UUID) -> tuple[Qualification, Application]:
    row = (await session.execute(
        select(Qualification, Application).join(Application, Application.id == Qualification.application_id)
        .where(Qualification.id == qualification_id, qualification_readable_by(actor)))).one_or_none()
    if row is None:
        raise NotFound("qualification_not_found", "备案不存在")
    return row[0], row[1]
