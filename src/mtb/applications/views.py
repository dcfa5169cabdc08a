"""Building the answers: an application with its names from the catalog it was made under, its
materials, its checklist and its timeline."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.models import Application, ApplicationEvent
from mtb.applications.schemas import (
    AGENT_IS,
    OUTCOME_LABELS,
    RELATION_LABELS,
    VERDICT_LABELS,
    ApplicationOut,
    ApplicationSummary,
    ChecklistItem,
    CodeName,
    DecisionOut,
    DecisionReason,
    MaterialOut,
    PersonRef,
    TimelineEntry,
)
from mtb.applications.service import materials_of
from mtb.applications.states import LABELS, Status
from mtb.catalog.document import CatalogDocument
from mtb.catalog.examples import review_due_basis
from mtb.catalog.service import catalog_by_version_id
from mtb.identity.models import InsuredPerson
from mtb.materials.models import Material
from mtb.prereview.service import prereview_out
from mtb.review.models import ReviewDecision


def _names(doc: CatalogDocument, app: ApplicationFacts) -> tuple[CodeName, CodeName, CodeName, CodeName | None]:
    disease = doc.disease(app.disease_code)
    hospital = doc.hospital(app.hospital_code)
    channel = doc.channel(app.channel)
    laterality = None
    if app.laterality and disease and disease.laterality:
        option = next((o for o in disease.laterality if o.code == app.laterality), None)
        laterality = CodeName(code=app.laterality, name=option.name if option else app.laterality)
    return (CodeName(code=app.disease_code, name=disease.name if disease else app.disease_code),
            CodeName(code=app.hospital_code, name=hospital.name if hospital else app.hospital_code),
            CodeName(code=app.channel, name=channel.name if channel else app.channel),
            laterality)


# The facts an answer is built from: ORM rows on the session path, or these rows on the direct reader's
# path (mtb/direct/applications.py), which has the same fields.
@dataclass(slots=True)
class AppRow:
    id: uuid.UUID
    kind: str
    qualification_id: uuid.UUID | None
    region_code: str
    disease_code: str
    hospital_code: str
    channel: str
    laterality: str | None
    relation: str
    status: str
    round: int
    due_date: date | None
    submitted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    pending_approval_by_id: uuid.UUID | None
    submitter_staff_id: uuid.UUID | None
    submitter_person_id: uuid.UUID | None
    beneficiary_id: uuid.UUID
    case_number: str | None
    due_date_provisional: bool = False


@dataclass(slots=True)
class MaterialRow:
    id: uuid.UUID
    application_id: uuid.UUID
    kind: str
    sha256: str
    size: int
    content_type: str
    file_name: str
    pages: int | None
    width: int | None
    height: int | None
    warnings: list[dict[str, str]]
    fields: dict[str, Any]
    verdict: str | None
    verdict_comment: str | None
    created_at: datetime


@dataclass(slots=True)
class EventRow:
    from_status: str | None
    to_status: str
    actor_kind: str
    reason: str | None
    round: int
    created_at: datetime


@dataclass(slots=True)
class DecisionRow:
    round: int
    outcome: str
    reasons: list[dict[str, str]]
    material_verdicts: list[dict[str, str]]
    note: str | None
    decided_at: datetime


ApplicationFacts = Application | AppRow
MaterialFacts = Material | MaterialRow
EventFacts = ApplicationEvent | EventRow
DecisionFacts = ReviewDecision | DecisionRow


def material_out(doc: CatalogDocument, m: MaterialFacts) -> MaterialOut:
    kind = doc.material_kind(m.kind)
    return MaterialOut(
        id=m.id, kind=m.kind, kind_name=kind.name if kind else m.kind, file_name=m.file_name,
        content_type=m.content_type, size=m.size, sha256=m.sha256, pages=m.pages, width=m.width,
        height=m.height, warnings=list(m.warnings or []), fields={k: str(v) for k, v in (m.fields or {}).items()},
        verdict=m.verdict, verdict_label=VERDICT_LABELS.get(m.verdict) if m.verdict else None,
        verdict_comment=m.verdict_comment, created_at=m.created_at,
        download_url=f"/api/v1/applications/{m.application_id}/materials/{m.id}/file")


def agent_relation_label(app: ApplicationFacts) -> str | None:
    """What the agent is to the beneficiary (子女 when the beneficiary is the agent's 父母), or None."""
    if app.submitter_staff_id is not None or app.relation == "self" or app.submitter_person_id in (
            None, app.beneficiary_id):
        return None
    return RELATION_LABELS[AGENT_IS.get(app.relation, "other")]


def submitted_by_label(app: ApplicationFacts, agent_name: str | None) -> str:
    if app.submitter_staff_id is not None:
        return "经办窗口代录"
    if app.submitter_person_id is not None and app.submitter_person_id != app.beneficiary_id:
        return f"代办人 {agent_name}" if agent_name else "代办人"
    return "本人"


async def submitted_by(session: AsyncSession, app: Application) -> str:
    agent = None
    if app.submitter_person_id is not None and app.submitter_person_id != app.beneficiary_id:
        agent = await session.get(InsuredPerson, app.submitter_person_id)
    return submitted_by_label(app, agent.name if agent else None)


async def application_out(session: AsyncSession, app: Application, *, with_prereview: bool = False,
                          materials: Sequence[MaterialFacts] | None = None,
                          events: Sequence[EventFacts] | None = None,
                          decisions: Sequence[DecisionFacts] | None = None) -> ApplicationOut:
    """The answer for one application; `with_prereview` (staff only) adds the pre-review's findings.
    `materials`, `events` (its status history) and `decisions` (the final ones) are read unless the caller
    already holds all of them, as it was read in this transaction (ordered as read here)."""
    catalog = await catalog_by_version_id(session, app.catalog_version_id)
    beneficiary = await session.get(InsuredPerson, app.beneficiary_id)
    assert beneficiary is not None
    if materials is None:
        materials = await materials_of(session, app)
    if events is None:
        events = list((await session.execute(
            select(ApplicationEvent).where(ApplicationEvent.application_id == app.id,
                                           ApplicationEvent.action == "status")
            .order_by(ApplicationEvent.id))).scalars())
    if decisions is None:
        decisions = list((await session.execute(
            select(ReviewDecision).where(ReviewDecision.application_id == app.id, ReviewDecision.final.is_(True))
            .order_by(ReviewDecision.decided_at))).scalars())
    out = build_application_out(
        catalog.document, catalog.version, app,
        beneficiary=PersonRef(name=beneficiary.name, id_number_masked=beneficiary.id_number_masked),
        submitted_by=await submitted_by(session, app), materials=materials, events=events, decisions=decisions)
    if with_prereview:
        out.prereview = await prereview_out(session, app)
    return out


def build_application_out(doc: CatalogDocument, catalog_version: str, app: ApplicationFacts, *,
                          beneficiary: PersonRef, submitted_by: str, materials: Sequence[MaterialFacts],
                          events: Sequence[EventFacts], decisions: Sequence[DecisionFacts]) -> ApplicationOut:
    """The answer for one application, from facts however they were read (the session or the direct
    reader: both give the same answer, which tests/applications/test_direct_read.py checks)."""
    disease, hospital, channel, laterality = _names(doc, app)
    decided = [DecisionOut(
        round=d.round, outcome=d.outcome, outcome_label=OUTCOME_LABELS[d.outcome],
        reasons=[DecisionReason(**r) for r in d.reasons], materials=list(d.material_verdicts), note=d.note,
        decided_at=d.decided_at) for d in decisions]
    checklist: list[ChecklistItem] = []
    disease_entry = doc.disease(app.disease_code)
    if disease_entry is not None:
        for req in doc.materials_for(disease_entry, app.kind):
            kind = doc.material_kind(req.kind)
            assert kind is not None
            checklist.append(ChecklistItem(
                kind=kind.kind, name=kind.name, required=req.required, generated=kind.generated,
                requirement=kind.requirement, uploaded=sum(1 for m in materials if m.kind == kind.kind)))
    return ApplicationOut(
        id=app.id, case_number=app.case_number, kind=app.kind, qualification_id=app.qualification_id,
        region_code=app.region_code,
        region_name=doc.region.name, catalog_version=catalog_version,
        disease=disease, hospital=hospital, channel=channel, laterality=laterality, relation=app.relation,
        relation_label=RELATION_LABELS.get(app.relation, app.relation),
        agent_relation_label=agent_relation_label(app),
        beneficiary=beneficiary, submitted_by=submitted_by, status=app.status,
        status_label=LABELS[Status(app.status)], round=app.round, due_date=app.due_date,
        due_date_provisional=app.due_date_provisional, due_date_basis=review_due_basis(doc),
        submitted_at=app.submitted_at, created_at=app.created_at, updated_at=app.updated_at,
        materials=[material_out(doc, m) for m in materials], checklist=checklist,
        decision=decided[-1] if decided else None, decisions=decided,
        awaiting_confirmation=app.pending_approval_by_id is not None,
        timeline=[TimelineEntry(from_status=e.from_status, to_status=e.to_status,
                                label=LABELS[Status(e.to_status)], actor_kind=e.actor_kind, reason=e.reason,
                                round=e.round, at=e.created_at) for e in events])


async def application_summary(session: AsyncSession, app: Application) -> ApplicationSummary:
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    disease, hospital, _channel, _lat = _names(doc, app)
    beneficiary = await session.get(InsuredPerson, app.beneficiary_id)
    assert beneficiary is not None
    return ApplicationSummary(
        id=app.id, case_number=app.case_number, kind=app.kind, region_code=app.region_code, disease=disease,
        hospital=hospital,
        beneficiary=PersonRef(name=beneficiary.name, id_number_masked=beneficiary.id_number_masked),
        status=app.status, status_label=LABELS[Status(app.status)], due_date=app.due_date,
        due_date_provisional=app.due_date_provisional, due_date_basis=review_due_basis(doc), created_at=app.created_at)

