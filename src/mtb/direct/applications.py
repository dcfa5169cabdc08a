"""An insured person reading one of their applications (`GET /api/v1/applications/{id}`), in one batch
of statements: who is asking (token not revoked, person still registered), the application under the
access filter with its beneficiary, agent and catalog version, and its materials, timeline and decisions.

The answer is built by the same function as on the session path (`views.build_application_out`).
"""

from __future__ import annotations

import uuid
from dataclasses import fields

from sqlalchemy import ColumnElement, and_, bindparam, func, literal_column, select, true
from sqlalchemy.orm import aliased

from mtb.applications.actors import person_may_read
from mtb.applications.models import Application, ApplicationEvent
from mtb.applications.schemas import (
    OUTCOME_LABELS,
    ApplicationOut,
    ApplicationStatusOut,
    CodeName,
    DecisionOut,
    DecisionReason,
    PersonRef,
)
from mtb.applications.states import LABELS, Status
from mtb.applications.views import (
    AppRow,
    DecisionRow,
    EventRow,
    MaterialRow,
    build_application_out,
    submitted_by_label,
)
from mtb.catalog.document import CatalogDocument
from mtb.catalog.examples import review_due_basis
from mtb.catalog.models import CatalogVersion
from mtb.catalog.service import document_from_cache, remember_document
from mtb.direct.reader import (
    DirectReader,
    as_date_or_none,
    as_datetime,
    as_datetime_or_none,
    as_json,
    as_uuid,
    as_uuid_or_none,
)
from mtb.direct.staff import revoked
from mtb.direct.statements import Statement, inline
from mtb.errors import NotFound, Unauthorized
from mtb.identity.models import InsuredPerson
from mtb.identity.tokens import Principal, revocation_key, token_revoked
from mtb.materials.models import Material
from mtb.review.models import ReviewDecision

_PERSON, _APP = bindparam("person"), bindparam("app")


def _registered() -> ColumnElement[int]:
    """1 while the asking person is still registered."""
    return (select(func.count()).select_from(InsuredPerson).where(InsuredPerson.id == _PERSON)
            .scalar_subquery().label("registered"))


_b, _g, _c = aliased(InsuredPerson, name="b"), aliased(InsuredPerson, name="g"), aliased(CatalogVersion, name="c")

WHO = Statement("who", select(revoked(), _registered()))
# The application under the person's access filter (applications/actors.py person_may_read, as the
# session path's readable_by), with its beneficiary, agent and catalog version.
APPLICATION = Statement("application", select(
    *(getattr(Application, f.name) for f in fields(AppRow)),
    _b.name.label("beneficiary_name"), _b.id_number_masked.label("beneficiary_id_number_masked"),
    _g.name.label("agent_name"), _c.id.label("catalog_id"), _c.version.label("catalog_version"),
    _c.sha256.label("catalog_sha256"))
    .join(_b, _b.id == Application.beneficiary_id)
    .outerjoin(_g, _g.id == Application.submitter_person_id)
    .join(_c, _c.id == Application.catalog_version_id)
    .where(Application.id == _APP, person_may_read(_PERSON)))
MATERIALS = Statement("materials", select(*(getattr(Material, f.name) for f in fields(MaterialRow)))
                      .where(Material.application_id == _APP).order_by(Material.created_at, Material.id))
EVENTS = Statement("events", select(*(getattr(ApplicationEvent, f.name) for f in fields(EventRow)))
                   .where(ApplicationEvent.application_id == _APP, ApplicationEvent.action == inline("status"))
                   .order_by(ApplicationEvent.id))
DECISIONS = Statement("decisions", select(*(getattr(ReviewDecision, f.name) for f in fields(DecisionRow)))
                      .where(ReviewDecision.application_id == _APP, ReviewDecision.final == true())
                      .order_by(ReviewDecision.decided_at))
CATALOG_DOCUMENT = Statement("catalog_document", select(CatalogVersion.document)
                             .where(CatalogVersion.id == bindparam("version_id")))


async def read_own_application(reader: DirectReader, principal: Principal,
                               application_id: uuid.UUID) -> ApplicationOut:
    """The application as its applicant or beneficiary sees it; 401 for a revoked token or a person no
    longer registered, 404 when it is not theirs (or does not exist)."""
    params = {"jti": revocation_key(principal), "person": reader.uuid_param(principal.id),
              "app": reader.uuid_param(application_id)}
    who, found, materials, events, decisions = await reader.many(
        [(WHO, params), (APPLICATION, params), (MATERIALS, params), (EVENTS, params), (DECISIONS, params)])
    if who[0].revoked:
        raise token_revoked()
    if not who[0].registered:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    if not found:
        raise NotFound("application_not_found", "申请不存在")
    r = found[0]
    app = AppRow(
        id=as_uuid(r.id), kind=r.kind, qualification_id=as_uuid_or_none(r.qualification_id),
        region_code=r.region_code, disease_code=r.disease_code, hospital_code=r.hospital_code, channel=r.channel,
        laterality=r.laterality, relation=r.relation, status=r.status, round=r.round,
        due_date=as_date_or_none(r.due_date), submitted_at=as_datetime_or_none(r.submitted_at),
        created_at=as_datetime(r.created_at), updated_at=as_datetime(r.updated_at),
        pending_approval_by_id=as_uuid_or_none(r.pending_approval_by_id),
        submitter_staff_id=as_uuid_or_none(r.submitter_staff_id),
        submitter_person_id=as_uuid_or_none(r.submitter_person_id), beneficiary_id=as_uuid(r.beneficiary_id),
        case_number=r.case_number, due_date_provisional=bool(r.due_date_provisional))
    doc = await catalog_document(reader, r.catalog_id, r.catalog_sha256)
    return build_application_out(
        doc, r.catalog_version, app,
        beneficiary=PersonRef(name=r.beneficiary_name, id_number_masked=r.beneficiary_id_number_masked),
        submitted_by=submitted_by_label(app, r.agent_name),
        materials=[MaterialRow(
            id=as_uuid(m.id), application_id=as_uuid(m.application_id), kind=m.kind, sha256=m.sha256, size=m.size,
            content_type=m.content_type, file_name=m.file_name, pages=m.pages, width=m.width, height=m.height,
            warnings=as_json(m.warnings) or [], fields=as_json(m.fields) or {}, verdict=m.verdict,
            verdict_comment=m.verdict_comment, created_at=as_datetime(m.created_at)) for m in materials],
        events=[EventRow(from_status=e.from_status, to_status=e.to_status, actor_kind=e.actor_kind, reason=e.reason,
                         round=e.round, created_at=as_datetime(e.created_at)) for e in events],
        decisions=[DecisionRow(round=d.round, outcome=d.outcome, reasons=as_json(d.reasons) or [],
                               material_verdicts=as_json(d.material_verdicts) or [], note=d.note,
                               decided_at=as_datetime(d.decided_at)) for d in decisions])


async def catalog_document(reader: DirectReader, version_id: int, sha256: str) -> CatalogDocument:
    """A catalog version's document, parsed once per worker (versions never change)."""
    doc = document_from_cache(version_id, sha256)
    if doc is None:
        (row,) = await reader.all(CATALOG_DOCUMENT, {"version_id": version_id})
        doc = remember_document(version_id, sha256, as_json(row.document))
    return doc


# One statement: who is asking, the application under the access filter, its catalog version and its
# latest final decision. The person's side is a one-row FROM so that a missing application still says
# whether the token was revoked.
_d, _e = aliased(ReviewDecision, name="d"), aliased(ReviewDecision, name="e")
_LATEST_FINAL = (select(_e.id).where(_e.application_id == Application.id, _e.final == true())
                 .order_by(_e.decided_at.desc()).limit(1).scalar_subquery())
STATUS = Statement("status", select(
    revoked(), _registered(), Application.id, Application.kind, Application.status, Application.round,
    Application.disease_code, Application.hospital_code, Application.submitted_at, Application.due_date,
    Application.updated_at, Application.pending_approval_by_id, _c.id.label("catalog_id"),
    _c.sha256.label("catalog_sha256"), _d.round.label("decision_round"), _d.outcome, _d.reasons,
    _d.material_verdicts, _d.note, _d.decided_at, Application.case_number, Application.due_date_provisional)
    .select_from(select(literal_column("1").label("one")).subquery("x")
                 .outerjoin(Application, and_(Application.id == _APP, person_may_read(_PERSON)))
                 .outerjoin(_c, _c.id == Application.catalog_version_id)
                 .outerjoin(_d, _d.id == _LATEST_FINAL)))


async def read_own_status(reader: DirectReader, principal: Principal,
                          application_id: uuid.UUID) -> ApplicationStatusOut:
    """Where the asker's application stands, with the same 401/404 answers as the full read."""
    (r,) = await reader.all(STATUS, {"jti": revocation_key(principal), "person": reader.uuid_param(principal.id),
                                     "app": reader.uuid_param(application_id)})
    if r.revoked:
        raise token_revoked()
    if not r.registered:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    if r.id is None:
        raise NotFound("application_not_found", "申请不存在")
    doc = await catalog_document(reader, r.catalog_id, r.catalog_sha256)
    disease, hospital = doc.disease(r.disease_code), doc.hospital(r.hospital_code)
    decision = None
    if r.outcome is not None:
        decision = DecisionOut(round=r.decision_round, outcome=r.outcome, outcome_label=OUTCOME_LABELS[r.outcome],
                               reasons=[DecisionReason(**x) for x in as_json(r.reasons) or []],
                               materials=list(as_json(r.material_verdicts) or []), note=r.note,
                               decided_at=as_datetime(r.decided_at))
    return ApplicationStatusOut(
        id=as_uuid(r.id), case_number=r.case_number, kind=r.kind, status=r.status,
        status_label=LABELS[Status(r.status)], round=r.round,
        disease=CodeName(code=r.disease_code, name=disease.name if disease else r.disease_code),
        hospital=CodeName(code=r.hospital_code, name=hospital.name if hospital else r.hospital_code),
        submitted_at=as_datetime_or_none(r.submitted_at), due_date=as_date_or_none(r.due_date),
        due_date_provisional=bool(r.due_date_provisional), due_date_basis=review_due_basis(doc),
        updated_at=as_datetime(r.updated_at), awaiting_confirmation=r.pending_approval_by_id is not None,
        decision=decision)
