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
from mtb.db.engine import DBSession
from mtb.direct.params import hot_route_openapi, query_model
from mtb.direct.staff import staff_of
from mtb.errors import NotFound
from mtb.identity.auth import principal_of, require_staff
from mtb.identity.models import StaffRole, StaffUser
from mtb.review.models import QualitySample
from mtb.review.queue import QueueFilter, QueueSearch, Sort, review_queue
from mtb.review.reasons import ReasonList
from mtb.review.schemas import (
    DecisionIn,
    HistoryEntry,
    QueuePage,
    ReasonCodeOut,
    SampleCheckIn,
    SampleOut,
)
from mtb.review.service import check_sample, claim, decide, release, release_if_held
from mtb.review.workbench import claim_next, reviewer_counts

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
    q: Annotated[str | None, Field(max_length=40, description=(
        "Search: a case number (受理编号, dash and spaces optional), or the beginning of the insured person's name "
        "and/or the last 4 characters of their ID number (e.g. `张`, `0021`, `张三 0021`, `BJ20261206-000123`)."))] = None
    sort: Annotated[Sort, Field(description="`due`: soonest due first (default); `-due`: latest due first.")] = "due"
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str | None, Field(max_length=500)] = None

    def filters(self) -> QueueFilter:
        return QueueFilter(status=self.status, disease_code=self.disease_code, channel=self.channel,
                           overdue=self.overdue, search=QueueSearch.parse(self.q), sort=self.sort)


class NextIn(BaseModel):
    """Which queue to take the next application from (the queue page's filters), and optionally the
    application to skip past."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    disease_code: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=64)
    overdue: bool | None = None
    q: str | None = Field(default=None, max_length=40)
    sort: Sort = "due"
    after: uuid.UUID | None = Field(default=None, description=(
        "Take the first free application after this one in queue order (to skip it); it is released first "
        "if this reviewer holds it."))

    def filters(self) -> QueueFilter:
        return QueueFilter(status=self.status, disease_code=self.disease_code, channel=self.channel,
                           overdue=self.overdue, search=QueueSearch.parse(self.q), sort=self.sort)


class CountsOut(BaseModel):
    decided_today: int = Field(description="Decisions (and first approvals) this reviewer made since local midnight")
    held_now: int = Field(description="Applications this reviewer holds now (claims not lapsed)")
    overdue_in_region: int = Field(description="Applications of the region's queue past their due date")


@router.get("/queue", response_model=QueuePage, openapi_extra=hot_route_openapi(query=QueueQuery, bearer=True))
async def queue(request: Request) -> Any:
    """The region's applications awaiting review, soonest due first; `next_cursor` fetches the next page.
    Read through the direct reader (see mtb/direct)."""
    reader = request.app.state.direct
    staff = await staff_of(reader, principal_of(request), StaffRole.reviewer, StaffRole.admin)
    q = query_model(request, QueueQuery)
    page = await review_queue(
        reader, region_code=staff.region_code, filters=q.filters(), limit=q.limit, cursor=q.cursor,
        calendar=request.app.state.calendar, idle_minutes=request.app.state.settings.claim_idle_minutes)
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/counts", response_model=CountsOut)
async def counts(request: Request, staff: Reviewer) -> CountsOut:
    """The asking reviewer's own counts, as the queue page shows them."""
    settings = request.app.state.settings
    c = await reviewer_counts(request.app.state.direct, staff_id=staff.id, region_code=staff.region_code,
                              idle_minutes=settings.claim_idle_minutes, timezone=settings.timezone)
    return CountsOut(decided_today=c.decided_today, held_now=c.held_now, overdue_in_region=c.overdue_in_region)


@router.post("/next", response_model=ApplicationOut)
async def next_application(body: NextIn, request: Request, staff: Reviewer, session: DBSession) -> ApplicationOut:
    """Claim and open the next application: the first in queue order (under the given filters and sort)
    that nobody holds. With `after`, that application is released (if the asking reviewer holds it) and
    the next one after its place is taken. What 决定并下一件 and the next-application key do on the page."""
    idle = request.app.state.settings.claim_idle_minutes
    if body.after is not None:
        await release_if_held(session, staff=staff, app_id=body.after, idle_minutes=idle)
    app = await claim_next(session, request.app.state.direct, staff=staff, filters=body.filters(),
                           after=body.after, idle_minutes=idle)
    return await application_out(session, app, with_prereview=True)


@router.post("/applications/{application_id}/claim", response_model=ApplicationOut)
async def claim_application(application_id: uuid.UUID, request: Request, staff: Reviewer,
                            session: DBSession) -> ApplicationOut:
    """Claim and open: take the application for review (or refresh one's own claim) and answer it, with
    the pre-review's findings, in the same call; a claim idle longer than MTB_CLAIM_IDLE_MINUTES lapses."""
    app = await get_readable(session, Actor.of_staff(staff), application_id)
    await claim(session, app, staff=staff, idle_minutes=request.app.state.settings.claim_idle_minutes)
    return await application_out(session, app, with_prereview=True)


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
