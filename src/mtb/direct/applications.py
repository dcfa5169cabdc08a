"""An insured person reading one of their applications (`GET /api/v1/applications/{id}`), in one batch
of statements: who is asking (token not revoked, person still registered), the application under the
access filter with its beneficiary, agent and catalog version, and its materials, timeline and decisions.

The answer is built by the same function as on the session path (`views.build_application_out`).
"""

from __future__ import annotations

import uuid

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
from mtb.errors import NotFound, Unauthorized
from mtb.identity.tokens import Principal, revocation_key, token_revoked

WHO = ("SELECT (SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?), "
       "(SELECT COUNT(*) FROM insured_persons WHERE id = ?)")
APPLICATION = (
    "SELECT a.id, a.kind, a.qualification_id, a.region_code, a.disease_code, a.hospital_code, a.channel, "
    "a.laterality, a.relation, a.status, a.round, a.due_date, a.submitted_at, a.created_at, a.updated_at, "
    "a.pending_approval_by_id, a.submitter_staff_id, a.submitter_person_id, a.beneficiary_id, "
    "b.name, b.id_number_masked, g.name, c.id, c.version, c.sha256, a.case_number, a.due_date_provisional "
    "FROM applications a "
    "JOIN insured_persons b ON b.id = a.beneficiary_id "
    "LEFT JOIN insured_persons g ON g.id = a.submitter_person_id "
    "JOIN catalog_versions c ON c.id = a.catalog_version_id "
    "WHERE a.id = ? AND (a.beneficiary_id = ? OR a.submitter_person_id = ?)")
MATERIALS = (
    "SELECT id, application_id, kind, sha256, size, content_type, file_name, pages, width, height, warnings, "
    "fields, verdict, verdict_comment, created_at FROM materials WHERE application_id = ? "
    "ORDER BY created_at, id")
EVENTS = ("SELECT from_status, to_status, actor_kind, reason, round, created_at FROM application_events "
          "WHERE application_id = ? AND action = 'status' ORDER BY id")
DECISIONS = ("SELECT round, outcome, reasons, material_verdicts, note, decided_at FROM review_decisions "
             "WHERE application_id = ? AND final = ? ORDER BY decided_at")
CATALOG_DOCUMENT = "SELECT document FROM catalog_versions WHERE id = ?"


async def read_own_application(reader: DirectReader, principal: Principal,
                               application_id: uuid.UUID) -> ApplicationOut:
    """The application as its applicant or beneficiary sees it; 401 for a revoked token or a person no
    longer registered, 404 when it is not theirs (or does not exist)."""
    person = reader.uuid_param(principal.id)
    app_id = reader.uuid_param(application_id)
    who, found, materials, events, decisions = await reader.many([
        (WHO, (revocation_key(principal), person)),
        (APPLICATION, (app_id, person, person)),
        (MATERIALS, (app_id,)),
        (EVENTS, (app_id,)),
        (DECISIONS, (app_id, True)),
    ])
    revoked, registered = who[0]
    if revoked:
        raise token_revoked()
    if not registered:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    if not found:
        raise NotFound("application_not_found", "申请不存在")
    r = found[0]
    app = AppRow(as_uuid(r[0]), r[1], as_uuid_or_none(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                 as_date_or_none(r[11]), as_datetime_or_none(r[12]), as_datetime(r[13]), as_datetime(r[14]),
                 as_uuid_or_none(r[15]), as_uuid_or_none(r[16]), as_uuid_or_none(r[17]), as_uuid(r[18]), r[25],
                 bool(r[26]))
    version_id, version, sha256 = r[22], r[23], r[24]
    doc = await catalog_document(reader, version_id, sha256)
    return build_application_out(
        doc, version, app, beneficiary=PersonRef(name=r[19], id_number_masked=r[20]),
        submitted_by=submitted_by_label(app, r[21]),
        materials=[MaterialRow(as_uuid(m[0]), as_uuid(m[1]), m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9],
                               as_json(m[10]) or [], as_json(m[11]) or {}, m[12], m[13], as_datetime(m[14]))
                   for m in materials],
        events=[EventRow(e[0], e[1], e[2], e[3], e[4], as_datetime(e[5])) for e in events],
        decisions=[DecisionRow(d[0], d[1], as_json(d[2]) or [], as_json(d[3]) or [], d[4], as_datetime(d[5]))
                   for d in decisions])


async def catalog_document(reader: DirectReader, version_id: int, sha256: str) -> CatalogDocument:
    """A catalog version's document, parsed once per worker (versions never change)."""
    doc = document_from_cache(version_id, sha256)
    if doc is None:
        (raw,), = await reader.all(CATALOG_DOCUMENT, (version_id,))
        doc = remember_document(version_id, sha256, as_json(raw))
    return doc


# One statement: who is asking, the application under the access filter, its catalog version and its
# latest final decision. The person's side is a one-row FROM so that a missing application still says
# whether the token was revoked.
STATUS = (
    "SELECT (SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?), "
    "(SELECT COUNT(*) FROM insured_persons WHERE id = ?), "
    "a.id, a.kind, a.status, a.round, a.disease_code, a.hospital_code, a.submitted_at, a.due_date, a.updated_at, "
    "a.pending_approval_by_id, c.id, c.sha256, d.round, d.outcome, d.reasons, d.material_verdicts, d.note, "
    "d.decided_at, a.case_number, a.due_date_provisional "
    "FROM (SELECT 1 AS one) x "
    "LEFT JOIN applications a ON a.id = ? AND (a.beneficiary_id = ? OR a.submitter_person_id = ?) "
    "LEFT JOIN catalog_versions c ON c.id = a.catalog_version_id "
    "LEFT JOIN review_decisions d ON d.id = (SELECT e.id FROM review_decisions e WHERE e.application_id = a.id "
    "AND e.final = ? ORDER BY e.decided_at DESC LIMIT 1)")


async def read_own_status(reader: DirectReader, principal: Principal,
                          application_id: uuid.UUID) -> ApplicationStatusOut:
    """Where the asker's application stands, with the same 401/404 answers as the full read."""
    person = reader.uuid_param(principal.id)
    (r,) = await reader.all(STATUS, (revocation_key(principal), person, reader.uuid_param(application_id), person,
                                     person, True))
    if r[0]:
        raise token_revoked()
    if not r[1]:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    if r[2] is None:
        raise NotFound("application_not_found", "申请不存在")
    doc = await catalog_document(reader, r[12], r[13])
    disease, hospital = doc.disease(r[6]), doc.hospital(r[7])
    decision = None
    if r[15] is not None:
        decision = DecisionOut(round=r[14], outcome=r[15], outcome_label=OUTCOME_LABELS[r[15]],
                               reasons=[DecisionReason(**x) for x in as_json(r[16]) or []],
                               materials=list(as_json(r[17]) or []), note=r[18], decided_at=as_datetime(r[19]))
    return ApplicationStatusOut(
        id=as_uuid(r[2]), case_number=r[20], kind=r[3], status=r[4], status_label=LABELS[Status(r[4])], round=r[5],
        disease=CodeName(code=r[6], name=disease.name if disease else r[6]),
        hospital=CodeName(code=r[7], name=hospital.name if hospital else r[7]),
        submitted_at=as_datetime_or_none(r[8]), due_date=as_date_or_none(r[9]), due_date_provisional=bool(r[21]),
        due_date_basis=review_due_basis(doc),
        updated_at=as_datetime(r[10]),
        awaiting_confirmation=r[11] is not None, decision=decision)
