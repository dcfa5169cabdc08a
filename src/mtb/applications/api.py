"""Application routes: create, list, read, submit (idempotent), withdraw, and the form PDF."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from mtb.applications.auth import Reader, Writer, acting_of
from mtb.applications.form import form_pdf, form_response
from mtb.applications.schemas import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationStatusOut,
    ApplicationSummary,
    SubmitIn,
    WithdrawIn,
)
from mtb.applications.service import (
    create_application,
    get_readable,
    get_writable,
    list_readable,
    record,
    withdraw,
)
from mtb.applications.submission import submit_once
from mtb.applications.views import application_out, application_summary
from mtb.db.engine import MAX_OFFSET, DBSession
from mtb.direct.applications import read_own_application, read_own_status
from mtb.direct.params import hot_route_openapi, path_uuid
from mtb.errors import ErrorOut, Forbidden
from mtb.identity.asker import PERSONS_ONLY, load_person
from mtb.identity.auth import principal_of
from mtb.identity.throttle import IdentityGuard

router = APIRouter(prefix="/api/v1/applications", tags=["applications"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]


# The hot reads first: routes are matched in order.
@router.get("/{application_id}/status", response_model=ApplicationStatusOut,
            openapi_extra=hot_route_openapi(path=("application_id",), bearer=True))
async def read_status(request: Request) -> Any:
    """Where the application stands (status, due date, the latest decision and its reasons): what an app
    polls. For the applicant or beneficiary; one statement through the direct reader."""
    principal = principal_of(request)
    application_id = path_uuid(request, "application_id")
    if principal.kind != "person":  # off the hot path: a revoked token says so (401) before the role does (403)
        async with request.app.state.sessionmaker() as session:
            await load_person(session, principal)  # refuses every principal that is not a person's
        raise Forbidden("forbidden_role", PERSONS_ONLY)  # not reached
    out = await read_own_status(request.app.state.direct, principal, application_id)
    return Response(out.model_dump_json(), media_type="application/json")


@router.get("/{application_id}", response_model=ApplicationOut,
            openapi_extra=hot_route_openapi(path=("application_id",), bearer=True))
async def read(request: Request) -> Any:
    """The hot read: a person reading their own application goes through the direct reader (one batch of
    statements, see mtb/direct). Staff reads are audited, so they write, and go through a session."""
    principal = principal_of(request)
    application_id = path_uuid(request, "application_id")
    if principal.kind == "person":
        out = await read_own_application(request.app.state.direct, principal, application_id)
        return Response(out.model_dump_json(), media_type="application/json")
    async with request.app.state.sessionmaker() as session:
        acting = await acting_of(principal, session)  # checks revocation too
        app = await get_readable(session, acting.actor, application_id)
        await record(session, app, "application_viewed", actor=acting.actor)
        out = await application_out(session, app, with_prereview=True)
        await session.commit()
    return Response(out.model_dump_json(), media_type="application/json")


@router.post("", status_code=201, response_model=ApplicationOut)
async def create(payload: ApplicationCreate, acting: Writer, session: DBSession, request: Request) -> ApplicationOut:
    clerk = acting.staff.id if acting.staff is not None else None  # a window clerk: their own counters
    app, created = await create_application(session, actor=acting.actor, actor_person=acting.person,
                                            payload=payload, guard=IdentityGuard.for_request(request, clerk_id=clerk))
    # A draft made in this transaction: no materials or decisions yet, and its timeline is its creation.
    return await application_out(session, app, materials=[], events=[created], decisions=[])


@router.get("", response_model=list[ApplicationSummary])
async def list_mine(acting: Reader, session: DBSession, limit: Annotated[int, Query(ge=1, le=100)] = 50,
                    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> list[ApplicationSummary]:
    apps = await list_readable(session, acting.actor, limit=limit, offset=offset)
    return [await application_summary(session, a) for a in apps]


@router.post("/{application_id}/submit", response_model=ApplicationOut,
             responses={409: {"model": ErrorOut, "description": "already submitted, or changed concurrently"}})
async def submit_application(application_id: uuid.UUID, acting: Writer, session: DBSession, request: Request,
                             idempotency_key: IdempotencyKey = None, body: SubmitIn | None = None) -> Any:
    """Submit for review. The same `Idempotency-Key` returns the same answer without a second
    submission; a retry without a key after success is a 409 `already_submitted`."""
    app = await get_writable(session, acting.actor, application_id)
    done = await submit_once(session, app, actor=acting.actor, calendar=request.app.state.calendar,
                             key=idempotency_key, declaration_version=body.declaration_version if body else None,
                             sessionmaker=request.app.state.sessionmaker)
    return JSONResponse(done.body, status_code=done.status_code) if done.replayed else done.body


@router.post("/{application_id}/withdraw", response_model=ApplicationOut)
async def withdraw_application(application_id: uuid.UUID, acting: Writer, session: DBSession,
                               body: WithdrawIn | None = None) -> ApplicationOut:
    app = await get_writable(session, acting.actor, application_id)
    await withdraw(session, app, actor=acting.actor, reason=body.reason if body else None)
    return await application_out(session, app)


@router.get("/{application_id}/form.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
async def form(application_id: uuid.UUID, acting: Reader, session: DBSession) -> Response:
    app = await get_readable(session, acting.actor, application_id)
    return form_response(app, await form_pdf(session, app, viewer=acting.actor))
