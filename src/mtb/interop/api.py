"""FHIR R4 reads (base `/api/v1/fhir`) and the administrators' CSV exports.

The FHIR base sits under /api/v1 so that it follows the API's rules: bearer tokens, the application API's
access (the applicant and the beneficiary see their own, staff their region's, anything else is a 404).
Refusals are OperationOutcome resources carrying MTB's error code (interop/outcome.py, rendered by the
app's one error handler). `metadata` (the CapabilityStatement) needs no login. A staff member's FHIR
read is recorded in the application's history, as the application API records its reads.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.auth import Acting, Reader
from mtb.applications.models import Application
from mtb.applications.service import get_readable, record
from mtb.db.engine import DBSession
from mtb.identity.auth import require_staff
from mtb.identity.models import StaffRole, StaffUser
from mtb.interop import fhir
from mtb.interop.capability import capability_statement
from mtb.interop.outcome import FHIR_PREFIX, outcome_responses
from mtb.interop.records import (
    ApplicationRecord,
    load_records,
    qualification_readable_by,
    readable_material,
    readable_person,
    readable_qualification,
)
from mtb.interop.tables import (
    APPLICATION_COLUMNS,
    DECISION_COLUMNS,
    Period,
    RowSource,
    TableContext,
    application_rows,
    csv_chunks,
    decision_rows,
)
from mtb.qualifications.models import Qualification
from mtb.timeutil import Day, local_today, utcnow

router = APIRouter(prefix=FHIR_PREFIX, tags=["fhir"], responses=outcome_responses({
    401: "not logged in, or the token has ended", 403: "a role that may not do this",
    404: "not found, or not yours to see", 409: "a state conflict", 413: "too large",
    415: "a media type MTB does not take", 422: "malformed input", 429: "too many attempts", 503: "unavailable for a moment (Retry-After)",
    507: "the disk is full: nothing was saved (Retry-After)"}))
admin_router = APIRouter(prefix="/api/v1/admin/exports", tags=["administration"])
log = logging.getLogger("mtb.exports")

Admin = Annotated[StaffUser, Depends(require_staff(StaffRole.admin))]


class FHIRResponse(JSONResponse):
    media_type = "application/fhir+json"


def fhir_ok(resource_type: str) -> dict[int | str, dict[str, Any]]:
    """The 200 answer of a FHIR read: a resource of that type, as FHIR R4's JSON defines it
    (hl7.org/fhir/R4/json.html); its elements are FHIR's, not repeated here."""
    return {200: {"description": f"a FHIR R4 {resource_type}", "content": {"application/fhir+json": {"schema": {
        "type": "object", "title": f"FHIR R4 {resource_type}", "required": ["resourceType"],
        "properties": {"resourceType": {"const": resource_type}, "id": {"type": "string"}},
        "additionalProperties": True}}}}}
CSV_OK: dict[int | str, dict[str, Any]] = {200: {
    "description": "CSV, UTF-8 with a byte order mark",
    "content": {"text/csv": {"schema": {"type": "string"}}}}}


async def _audit(session: AsyncSession, acting: Acting, app: Application, resource: str,
                 resource_id: object) -> None:
    if acting.actor.kind == "staff":
        await record(session, app, "fhir_viewed", actor=acting.actor,
                     detail={"resource": resource, "id": str(resource_id)})


async def _record_of(session: AsyncSession, app: Application) -> ApplicationRecord:
    return (await load_records(session, [app]))[0]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _may_read_filing(session: AsyncSession, acting: Acting, rec: ApplicationRecord) -> bool:
    """Whether the asker may read the filing the application granted (not an agent)."""
    return rec.qualification is not None and (await session.execute(
        select(Qualification.id).where(Qualification.id == rec.qualification.id,
                                       qualification_readable_by(acting.actor)))).first() is not None


@router.get("/metadata", response_class=FHIRResponse, responses=fhir_ok("CapabilityStatement"))
async def metadata(request: Request) -> FHIRResponse:
    """The CapabilityStatement: what this FHIR server offers (no login needed)."""
    return FHIRResponse(capability_statement(f"{_base(request)}{router.prefix}"))


@router.get("/Patient/{person_id}", response_class=FHIRResponse, responses=fhir_ok("Patient"))
async def read_patient(person_id: uuid.UUID, acting: Reader, session: DBSession) -> FHIRResponse:
    person, app = await readable_person(session, acting.actor, person_id)
    if app is not None:
        await _audit(session, acting, app, "Patient", person.id)
    return FHIRResponse(fhir.patient(person))


@router.get("/Coverage/{person_id}", response_class=FHIRResponse, responses=fhir_ok("Coverage"))
async def read_coverage(person_id: uuid.UUID, acting: Reader, session: DBSession) -> FHIRResponse:
    """The person's insurance; its id is the person's."""
    person, app = await readable_person(session, acting.actor, person_id)
    if app is not None:
        await _audit(session, acting, app, "Coverage", person.id)
    return FHIRResponse(fhir.coverage(person))


@router.get("/Condition/{application_id}", response_class=FHIRResponse, responses=fhir_ok("Condition"))
async def read_condition(application_id: uuid.UUID, acting: Reader, session: DBSession) -> FHIRResponse:
    """The disease an application is for; its id is the application's."""
    app = await get_readable(session, acting.actor, application_id)
    await _audit(session, acting, app, "Condition", app.id)
    return FHIRResponse(fhir.condition(await _record_of(session, app)))


@router.get("/Task/{application_id}", response_class=FHIRResponse, responses=fhir_ok("Task"))
async def read_task(application_id: uuid.UUID, acting: Reader, session: DBSession) -> FHIRResponse:
    """The review of an application; its id is the application's. `output` names the filing granted only
    for those who may read it."""
    app = await get_readable(session, acting.actor, application_id)
    await _audit(session, acting, app, "Task", app.id)
    rec = await _record_of(session, app)
    return FHIRResponse(fhir.task(rec, with_output=await _may_read_filing(session, acting, rec)))


@router.get("/CoverageEligibilityRequest/{application_id}", response_class=FHIRResponse,
            responses=fhir_ok("CoverageEligibilityRequest"))
async def read_request(application_id: uuid.UUID, acting: Reader, session: DBSession) -> FHIRResponse:
    """The application itself (what it asks for); its id is the application's."""
    app = await get_readable(session, acting.actor, application_id)
    await _audit(session, acting, app, "CoverageEligibilityRequest", app.id)
    return FHIRResponse(fhir.eligibility_request(await _record_of(session, app)))


@router.get("/Task/{application_id}/$everything", response_class=FHIRResponse, responses=fhir_ok("Bundle"))
async def task_everything(application_id: uuid.UUID, acting: Reader, session: DBSession,
                          request: Request) -> FHIRResponse:
    """A searchset Bundle: the Task, its Patient, Coverage, Condition, CoverageEligibilityRequest,
    DocumentReferences and, once approved, the CoverageEligibilityResponse (for those who may read the
    filing: not an agent)."""
    app = await get_readable(session, acting.actor, application_id)
    await _audit(session, acting, app, "Bundle", app.id)
    rec = await _record_of(session, app)
    with_eligibility = await _may_read_filing(session, acting, rec)
    base = _base(request)
    return FHIRResponse(fhir.everything(rec, fhir_base=f"{base}{router.prefix}", base_url=base,
                                        today=local_today(), now=utcnow(), with_eligibility=with_eligibility))


@router.get("/DocumentReference/{material_id}", response_class=FHIRResponse,
            responses=fhir_ok("DocumentReference"))
async def read_document(material_id: uuid.UUID, acting: Reader, session: DBSession,
                        request: Request) -> FHIRResponse:
    """A material's description; `content.attachment.url` downloads the file."""
    material, app = await readable_material(session, acting.actor, material_id)
    await _audit(session, acting, app, "DocumentReference", material.id)
    rec = await _record_of(session, app)
    return FHIRResponse(fhir.document_reference(rec, material, base_url=_base(request)))


@router.get("/CoverageEligibilityResponse/{qualification_id}", response_class=FHIRResponse,
            responses=fhir_ok("CoverageEligibilityResponse"))
async def read_eligibility(qualification_id: uuid.UUID, acting: Reader,
                           session: DBSession) -> FHIRResponse:
    """A filing: its owner and the staff of its region read it (an agent does not)."""
    q, app = await readable_qualification(session, acting.actor, qualification_id)
    await _audit(session, acting, app, "CoverageEligibilityResponse", q.id)
    return FHIRResponse(fhir.eligibility_response(await _record_of(session, app), today=local_today()))


def _csv(request: Request, staff: StaffUser, table: str, columns: tuple[str, ...], rows: RowSource,
         start: date | None, end: date | None) -> StreamingResponse:
    settings = request.app.state.settings
    period = Period(region_code=staff.region_code, start=start, end=end)
    ctx = TableContext(calendar=request.app.state.calendar, data_key=settings.data_key,
                       timezone=settings.timezone)
    log.info("csv export", extra={"table": table, "staff": staff.username, "region": staff.region_code,
                                  "from": start.isoformat() if start else None,
                                  "to": end.isoformat() if end else None})
    return StreamingResponse(
        csv_chunks(columns, rows(request.app.state.sessionmaker, period, ctx)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="mtb-{table}-{staff.region_code}.csv"',
                 "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


From = Annotated[Day | None, Query(alias="from", description="first local day (included)")]
To = Annotated[Day | None, Query(alias="to", description="last local day (included)")]


@admin_router.get("/applications.csv", response_class=StreamingResponse, responses=CSV_OK)
async def applications_csv(request: Request, staff: Admin, start: From = None,
                           end: To = None) -> StreamingResponse:
    """One row per application of the administrator's region created in the period (docs/exports.md)."""
    return _csv(request, staff, "applications", APPLICATION_COLUMNS, application_rows, start, end)


@admin_router.get("/decisions.csv", response_class=StreamingResponse, responses=CSV_OK)
async def decisions_csv(request: Request, staff: Admin, start: From = None,
                        end: To = None) -> StreamingResponse:
    """One row per review decision of the administrator's region made in the period (docs/exports.md)."""
    return _csv(request, staff, "decisions", DECISION_COLUMNS, decision_rows, start, end)
