"""Review routes for the region's reviewers (and administrators acting as senior reviewers)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from mtb.applications.actors import Actor
from mtb.applications.models import ApplicationEvent
from mtb.applications.schemas import ApplicationOut
from mtb.applications.service import get_readable
from mtb.applications.states import Status
from mtb.applications.views import application_out
from mtb.db import DBSession
from mtb.direct.params import hot_route_openapi, query_model
from mtb.direct.staff import staff_of
from mtb.errors import NotFound
from mtb.identity.auth import principal_of, require_staff
from mtb.identity.models import StaffRole, StaffUser
from mtb.review.models import QualitySample
from mtb.review.queue import QueueFilter, review_queue
from mtb.review.reasons import ReasonList
from mtb.review.schemas import (
    DecisionIn,
    HistoryEntry,
    QueuePage,
    ReasonCodeOut,
    SampleCheckIn,
    SampleOut,
)
from mtb.review.service import check_sample, claim, decide, release

router = APIRouter(prefix="/api/v1/review", tags=["review"])

Reviewer = Annotated[StaffUser, Depends(require_staff(StaffRole.reviewer, StaffRole.admin))]
Senior = Annotated[StaffUser, Depends(require_staff(StaffRole.admin))]


def _reasons(request: Request) -> ReasonList:
    reasons: ReasonList = request.app.state.reasons
    return reasons


@router.get("/reason-codes", response_model=list[ReasonCodeOut])
async def reason_codes(request: Request, staff: Reviewer) -> list[ReasonCodeOut]:
    return [ReasonCodeOut(code=r.code, name=r.name, needs_detail=r.needs_detail) for r in _reasons(request).reasons]


class QueueQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Status | None = None
    disease_code: str | None = None
    channel: str | None = None
    overdue: bool | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str | None, Field(max_length=500)] = None


@router.get("/queue", response_model=QueuePage, openapi_extra=hot_route_openapi(query=QueueQuery, bearer=True))
async def queue(request: Request) -> Any:
    """The region's applications awaiting review, soonest due first; `next_cursor` fetches the next page.
    Read through the direct reader (see mtb/direct)."""
    reader = request.app.state.direct
    staff = await staff_of(reader, principal_of(request), StaffRole.reviewer, StaffRole.admin)
    q = query_model(request, QueueQuery)
    status, disease_code, channel, overdue, limit, cursor = (q.status, q.disease_code, q.channel, q.overdue,
                                                              q.limit, q.cursor)
    page = await review_queue(
        reader, region_code=staff.region_code,
        filters=QueueFilter(status=status, disease_code=disease_code, channel=channel, overdue=overdue),
        limit=limit, cursor=cursor, calendar=request.app.state.calendar,
        idle_minutes=request.app.state.settings.claim_idle_minutes)
    return Response(page.model_dump_json(), media_type="application/json")


@router.post("/applications/{application_id}/claim", response_model=ApplicationOut)
async def claim_application(application_id: uuid.UUID, request: Request, staff: Reviewer,
                            session: DBSession) -> ApplicationOut:
    app = await get_readable(session, Actor.of_staff(staff), application_id)
    await claim(session, app, staff=staff, idle_minutes=request.app.state.settings.claim_idle_minutes)
    return await application_out(session, app)


@router.post("/applications/{application_id}/release", response_model=ApplicationOut)
async def release_application(application_id: uuid.UUID, request: Request, staff: Reviewer,
                              session: DBSession) -> ApplicationOut:
    app = await get_readable(session, Actor.of_staff(staff), application_id)
    await release(session, app, staff=staff, idle_minutes=request.app.state.settings.claim_idle_minutes)
    return await application_out(session, app)


@router.post("/applications/{application_id}/decision", response_model=ApplicationOut)
async def decide_application(application_id: uuid.UUID, body: DecisionIn, request: Request, staff: Reviewer,
                             session: DBSession) -> ApplicationOut:
    """approve, return (at least one reason) or reject (final; a reason). Only the claim holder decides."""
    settings = request.app.state.settings
    app = await get_readable(session, Actor.of_staff(staff), application_id)
    await decide(session, app, staff=staff, payload=body, reasons=_reasons(request),
                 idle_minutes=settings.claim_idle_minutes, sample_rate=settings.quality_sample_rate)
    return await application_out(session, app)


@router.get("/applications/{application_id}/history", response_model=list[HistoryEntry])
async def history(application_id: uuid.UUID, staff: Reviewer, session: DBSession) -> list[HistoryEntry]:
    """The whole audit trail: status changes, claims, first approvals, material views, quality checks."""
    app = await get_readable(session, Actor.of_staff(staff), application_id)
    events = (await session.execute(select(ApplicationEvent).where(ApplicationEvent.application_id == app.id)
                                    .order_by(ApplicationEvent.id))).scalars()
    names: dict[uuid.UUID, str] = {}
    out = []
    for e in events:
        actor = None
        if e.actor_kind == "staff" and e.actor_id is not None:
            if e.actor_id not in names:
                member = await session.get(StaffUser, e.actor_id)
                names[e.actor_id] = member.username if member else str(e.actor_id)
            actor = names[e.actor_id]
        out.append(HistoryEntry(action=e.action, from_status=e.from_status, to_status=e.to_status,
                                actor_kind=e.actor_kind, actor=actor, reason=e.reason, detail=e.detail,
                                round=e.round, at=e.created_at))
    return out


async def _sample_out(session: DBSession, s: QualitySample) -> SampleOut:
    checker = await session.get(StaffUser, s.checked_by_id) if s.checked_by_id else None
    return SampleOut(id=s.id, application_id=s.application_id, drawn_at=s.drawn_at,
                     checked_by=checker.username if checker else None, checked_at=s.checked_at,
                     result=s.result, note=s.note)


@router.get("/samples", response_model=list[SampleOut])
async def samples(staff: Senior, session: DBSession, unchecked: bool = True) -> list[SampleOut]:
    """Approvals drawn for a senior check in the administrator's region."""
    query = select(QualitySample).where(QualitySample.region_code == staff.region_code)
    if unchecked:
        query = query.where(QualitySample.checked_at.is_(None))
    rows = (await session.execute(query.order_by(QualitySample.drawn_at).limit(200))).scalars()
    return [await _sample_out(session, s) for s in rows]


@router.post("/samples/{sample_id}/check", response_model=SampleOut)
async def check(sample_id: uuid.UUID, body: SampleCheckIn, staff: Senior, session: DBSession) -> SampleOut:
    sample = (await session.execute(select(QualitySample).where(
        QualitySample.id == sample_id, QualitySample.region_code == staff.region_code))).scalar_one_or_none()
    if sample is None:
        raise NotFound("sample_not_found", "抽查记录不存在")
    await check_sample(session, sample, staff=staff, result=body.result, note=body.note)
    return await _sample_out(session, sample)
