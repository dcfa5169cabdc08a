"""The agency's workbench: staff login, the review queue, the application under review (material viewer,
verdicts, reasons, decision), and the window clerk's entry of paper applications."""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import Select, select

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.schemas import ApplicationCreate, BeneficiaryIn
from mtb.applications.service import create_application, get_readable, record
from mtb.applications.states import LABELS, Status
from mtb.applications.views import application_out, application_summary
from mtb.catalog.service import active_catalog, catalog_by_version_id
from mtb.db.engine import DBSession
from mtb.errors import Conflict, MTBError, NotFound
from mtb.identity.api import staff_login
from mtb.identity.models import StaffRole, StaffUser
from mtb.identity.schemas import StaffLogin
from mtb.identity.throttle import IdentityGuard
from mtb.materials.pdfpages import render_page
from mtb.materials.service import get_material
from mtb.materials.viewing import viewed_copy
from mtb.review.api import history as history_entries
from mtb.review.claims import claim_stamp, claim_state
from mtb.review.queue import SORTS, QueueFilter, QueueSearch, review_queue
from mtb.review.schemas import DecisionIn, MaterialVerdictIn, QueuePage, ReasonIn
from mtb.review.service import claim, decide, refresh_claim, release_if_held, retake_lapsed_claim
from mtb.review.workbench import claim_next, reviewer_counts
from mtb.web import casework
from mtb.web.core import (
    SESSION_COOKIE,
    logout_to,
    page_staff,
    redirect,
    render,
    safe_next,
    set_cookie,
    undo,
    verify_csrf,
)

router = APIRouter(prefix="/staff")
REVIEWERS = (StaffRole.reviewer, StaffRole.admin)
CLERKS = (StaffRole.window, StaffRole.admin)
WINDOW = "/staff/window"
ACTIONS = {"status": "状态变更", "claim": "领取审核", "release": "释放", "claim_lapsed": "领取超时释放",
           "first_approval": "初审通过，待复核", "application_viewed": "查看申请", "material_viewed": "查看材料",
           "form_viewed": "查看申请表", "fhir_viewed": "经 FHIR 接口查看", "quality_check": "质量抽查",
           "fast_track": "快速通道自动审核通过", "approved_unmarked": "确认未标注的材料也通过",
           "declaration_confirmed": "确认提交声明"}


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


@router.get("/login")
async def login_page(request: Request, next: str = "/staff") -> Response:
    return render(request, "staff/login.html", next=safe_next(next, "/staff"))


@router.post("/login")
async def login(request: Request, session: DBSession) -> Response:
    await verify_csrf(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    target = safe_next(form.get("next"), "/staff")
    try:
        token = await staff_login(StaffLogin(username=form.get("username", ""), password=form.get("password", "")),
                                  request, session)
    except (MTBError, ValidationError) as exc:
        detail = exc.detail if isinstance(exc, MTBError) else "请填写用户名和密码"
        status = exc.status_code if isinstance(exc, MTBError) else 422
        return render(request, "staff/login.html", status_code=status, next=target,
                      username=form.get("username"), error=detail)
    response = redirect(target)
    set_cookie(request, response, SESSION_COOKIE, token.access_token, max_age=token.expires_in)
    return response


@router.post("/logout")
async def logout(request: Request, session: DBSession) -> Response:
    return await logout_to(request, session, "/staff/login")


QUEUE_FIELDS = ("status", "disease_code", "channel", "overdue", "q", "sort")


def queue_fields(values: Mapping[str, object]) -> dict[str, str]:
    """The queue page's filters, search and sort, as the URL (and the forms that return to it) carry them."""
    return {k: str(values.get(k) or "")[:64] for k in QUEUE_FIELDS}


def queue_filter(f: dict[str, str]) -> QueueFilter:
    return QueueFilter(status=Status(f["status"]) if f["status"] in ("submitted", "in_review") else None,
                       disease_code=f["disease_code"] or None, channel=f["channel"] or None,
                       overdue={"true": True, "false": False}.get(f["overdue"]), search=QueueSearch.parse(f["q"]),
                       sort="-due" if f["sort"] == "-due" else "due")


def queue_url(f: dict[str, str], **extra: str) -> str:
    query = urlencode({k: v for k, v in (f | extra).items() if v})
    return f"/staff?{query}" if query else "/staff"


@router.get("")
async def queue(request: Request, session: DBSession, cursor: str | None = None, notice: str = "") -> Response:
    staff = await page_staff(request, session)
    if staff.role == StaffRole.window:
        return redirect(WINDOW)
    if staff.role not in {r.value for r in REVIEWERS}:
        return redirect("/staff/login")
    doc = (await active_catalog(session, staff.region_code)).document
    settings = request.app.state.settings
    f = queue_fields(request.query_params)
    error = None
    try:
        page = await review_queue(request.app.state.direct, region_code=staff.region_code, filters=queue_filter(f),
                                  limit=25, cursor=cursor, calendar=request.app.state.calendar,
                                  idle_minutes=settings.claim_idle_minutes)
    except MTBError as exc:  # a search that is neither a name nor four ID characters: said on the page
        error, page = exc.detail, QueuePage(items=[], next_cursor=None)
    counts = await reviewer_counts(request.app.state.direct, staff_id=staff.id, region_code=staff.region_code,
                                   idle_minutes=settings.claim_idle_minutes, timezone=settings.timezone)
    return render(request, "staff/queue.html", status_code=422 if error else 200, page=page,
                  diseases=doc.diseases, channels=doc.channels, f=f, sorts=SORTS,
                  query=urlencode({k: v for k, v in f.items() if v}), counts=counts, error=error,
                  notice=NOTICES.get(notice), region_name=doc.region.name, tz=_tz(request))


NOTICES = {"empty": "队列中暂无其他可领取的申请。", "released": "已释放该申请，其他审核人员可以领取。"}


@router.post("/next")
async def next_page(request: Request, session: DBSession) -> Response:
    """开始审核 the next free application in the queue's order (its filters and sort come with the form);
    with `after`, the one being left is released and skipped."""
    await verify_csrf(request)
    staff = await page_staff(request, session, *REVIEWERS)
    form = await request.form()
    f = queue_fields(form)
    idle = request.app.state.settings.claim_idle_minutes
    after = _uuid_or_none(form.get("after"))
    if after is not None:
        await release_if_held(session, staff=staff, app_id=after, idle_minutes=idle)
    return await _open_next(request, session, staff, f, after=after)


async def _open_next(request: Request, session: DBSession, staff: StaffUser, f: dict[str, str], *,
                     after: uuid.UUID | None) -> Response:
    try:
        app = await claim_next(session, request.app.state.direct, staff=staff, filters=queue_filter(f), after=after,
                               idle_minutes=request.app.state.settings.claim_idle_minutes)
    except MTBError:  # nothing free (or a search the queue page will explain)
        return redirect(queue_url(f, notice="empty"))
    return redirect(_review_url(app.id, f))


def _review_url(app_id: uuid.UUID, f: dict[str, str]) -> str:
    query = urlencode({k: v for k, v in f.items() if v})
    return f"/staff/applications/{app_id}" + (f"?{query}" if query else "")


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def _review_page(request: Request, session: DBSession, staff: StaffUser, app_id: uuid.UUID,
                       error: str | None = None, status_code: int = 200, error_code: str | None = None,
                       f: dict[str, str] | None = None) -> Response:
    actor = Actor.of_staff(staff)
    app = await get_readable(session, actor, app_id)
    await record(session, app, "application_viewed", actor=actor)
    out = await application_out(session, app, with_prereview=True)
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    disease = doc.disease(app.disease_code)
    idle = request.app.state.settings.claim_idle_minutes
    state = claim_state(app, idle_minutes=idle)
    holding = app.status == Status.in_review and state.active and state.holder_id == staff.id
    if holding:  # this load's claim: the beacon of the page it replaces (a reload) releases only the older one
        try:
            await refresh_claim(session, app, staff=staff, idle_minutes=idle)
        except Conflict:
            pass  # changed a moment ago: the page shows what was read
    holder_text = "尚未领取"
    if state.active and state.holder_id not in (None, staff.id):
        other = await session.get(StaffUser, state.holder_id)
        holder_text = f"正由 {other.username if other else ''} 审核"
    f = f if f is not None else queue_fields(request.query_params)
    required = {c.kind for c in out.checklist if c.required}
    return render(request, "staff/application.html", status_code=status_code, app=out, holding=holding,
                  holder_text=holder_text, claim=claim_stamp(app) if holding else "",
                  reasons=request.app.state.reasons.reasons, f=f,
                  queue_href=queue_url(f), required=required, error_code=error_code,
                  rules=[r.source for r in disease.rules] if disease else [],
                  titles={t.code: t.name for t in doc.physician_titles},
                  prereview={p.material_id: p for p in out.prereview.materials} if out.prereview else {},
                  history=await history_entries(app_id, staff, session), actions=ACTIONS, labels=LABELS,
                  tz=_tz(request), error=error)


@router.get("/applications/{app_id}")
async def review_page(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session, *REVIEWERS)
    return await _review_page(request, session, staff, app_id)


@router.post("/applications/{app_id}/claim")
async def claim_page(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    """开始审核 / 领取审核: claim and open in one page load (the queue's row button and the page's own)."""
    await verify_csrf(request)
    staff = await page_staff(request, session, *REVIEWERS)
    f = queue_fields(await request.form())
    app = await get_readable(session, Actor.of_staff(staff), app_id)
    try:
        await claim(session, app, staff=staff, idle_minutes=request.app.state.settings.claim_idle_minutes)
    except MTBError as exc:
        await undo(session, staff)
        return await _review_page(request, session, staff, app_id, error=exc.detail, status_code=exc.status_code,
                                  f=f)
    return redirect(_review_url(app_id, f))


@router.post("/applications/{app_id}/release")
async def release_page(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    """Leave without deciding: the page's 释放 button, and the page script when the reviewer navigates
    away (a beacon); releasing what one does not hold changes nothing."""
    await verify_csrf(request)
    staff = await page_staff(request, session, *REVIEWERS)
    form = await request.form()
    f = queue_fields(form)
    await get_readable(session, Actor.of_staff(staff), app_id)
    stamp = form.get("claim")  # the beacon's: the claim its page showed
    released = await release_if_held(session, staff=staff, app_id=app_id,
                                     idle_minutes=request.app.state.settings.claim_idle_minutes,
                                     stamp=str(stamp) if stamp is not None else None)
    return redirect(queue_url(f, notice="released" if released else ""))


@router.post("/applications/{app_id}/decision")
async def decision_page(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    await verify_csrf(request)
    staff = await page_staff(request, session, *REVIEWERS)
    form = await request.form()
    f = queue_fields(form)
    app = await get_readable(session, Actor.of_staff(staff), app_id)
    try:
        reasons = [ReasonIn(code=str(code), detail=str(form.get(f"detail_{code}") or "") or None)
                   for code in form.getlist("reason")]
        verdicts = [MaterialVerdictIn(material_id=uuid.UUID(key.removeprefix("verdict_")), verdict=str(value),  # type: ignore[arg-type]
                                      comment=str(form.get(f"comment_{key.removeprefix('verdict_')}") or "") or None)
                    for key, value in form.multi_items() if key.startswith("verdict_") and value]
        payload = DecisionIn(outcome=str(form.get("outcome")), reasons=reasons, materials=verdicts,  # type: ignore[arg-type]
                             note=str(form.get("note") or "") or None,
                             confirm_unmarked=form.get("confirm_unmarked") == "1")
    except (ValidationError, ValueError):
        return await _review_page(request, session, staff, app_id, error="请选择审核结论并检查填写内容",
                                  status_code=422, f=f)
    idle_minutes = request.app.state.settings.claim_idle_minutes
    try:
        if form.get("claim"):  # the page was shown to this reviewer holding the claim
            await retake_lapsed_claim(session, app, staff=staff, idle_minutes=idle_minutes,
                                      shown_round=str(form.get("round") or ""))
        await decide(session, app, staff=staff, payload=payload, reasons=request.app.state.reasons,
                     idle_minutes=idle_minutes,
                     sample_rate=request.app.state.settings.quality_sample_rate)
    except MTBError as exc:
        await undo(session, staff)
        return await _review_page(request, session, staff, app_id, error=exc.detail, status_code=exc.status_code,
                                  error_code=exc.code, f=f)
    if form.get("then") == "next":  # 决定并下一件
        return await _open_next(request, session, staff, f, after=None)
    return redirect(_review_url(app_id, f))


@router.get("/applications/{app_id}/materials/{material_id}/file")
async def staff_file(app_id: uuid.UUID, material_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session)
    return await casework.material_file(request, session, Actor.of_staff(staff), app_id, material_id)


@router.get("/applications/{app_id}/materials/{material_id}/page/{number}.png")
async def pdf_page(app_id: uuid.UUID, material_id: uuid.UUID, number: int, request: Request,
                   session: DBSession) -> Response:
    """One page of a PDF material as an image, for the viewer (rendered with pdfium)."""
    staff = await page_staff(request, session)
    app = await get_readable(session, Actor.of_staff(staff), app_id)
    material = await get_material(session, app, material_id)
    if material.content_type != "application/pdf" or not 1 <= number <= (material.pages or 0):
        raise NotFound("page_not_found", "页面不存在")
    async with viewed_copy(session, request.app.state.storage, actor=Actor.of_staff(staff), app=app,
                           material=material, form="page", page=number) as path:  # audited
        png = await anyio.to_thread.run_sync(_render_page, path, number)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


def _render_page(path: Path, number: int) -> bytes:
    image = render_page(path, number, scale=1.4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@router.get("/applications/{app_id}/form.pdf")
async def staff_form(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session)
    return await casework.form_page(session, Actor.of_staff(staff), app_id)


# The window clerk: enter an application for the person at the counter, upload the scans, submit.

def window_entries(staff_id: uuid.UUID, limit: int = 20) -> Select[tuple[Application]]:
    """The clerk's latest window entries, read off ix_applications_window_entries."""
    return (select(Application).where(Application.submitter_staff_id == staff_id)
            .order_by(Application.created_at.desc()).limit(limit))


@router.get("/window")
async def window(request: Request, session: DBSession, error: str | None = None, form: dict[str, str] | None = None,
                 status_code: int = 200) -> Response:
    staff = await page_staff(request, session, *CLERKS)
    doc = (await active_catalog(session, staff.region_code)).document
    recent = list((await session.execute(window_entries(staff.id))).scalars())
    return render(request, "staff/window.html", status_code=status_code, region=doc.region, diseases=doc.diseases,
                  hospitals=doc.hospitals, recent=[await application_summary(session, a) for a in recent],
                  form=form or {}, error=error)


@router.post("/window")
async def window_create(request: Request, session: DBSession) -> Response:
    await verify_csrf(request)
    staff = await page_staff(request, session, *CLERKS)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    doc = (await active_catalog(session, staff.region_code)).document
    window_channel = next(c.code for c in doc.channels if c.kind == "window")
    try:
        payload = ApplicationCreate(
            region_code=staff.region_code, disease_code=form.get("disease_code", ""),
            hospital_code=form.get("hospital_code", ""), channel=window_channel,
            laterality=form.get("laterality") or None,
            beneficiary=BeneficiaryIn(name=form.get("b_name", ""), id_number=form.get("b_id_number", ""),
                                      card_number=form.get("b_card_number", ""), relation="other"))  # type: ignore[arg-type]
        app, _ = await create_application(session, actor=Actor.of_staff(staff), actor_person=None, payload=payload,
                                       guard=IdentityGuard.for_request(request, clerk_id=staff.id))
    except ValidationError:
        return await window(request, session, error="请完整填写参保人的姓名、身份证号和医保卡号", form=form,
                            status_code=422)
    except MTBError as exc:
        await undo(session, staff)
        return await window(request, session, error=exc.detail, form=form, status_code=exc.status_code)
    return redirect(f"{WINDOW}/{app.id}")


@router.get(WINDOW.removeprefix("/staff") + "/{app_id}")
async def window_application(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session, *CLERKS)
    return await casework.show(request, session, Actor.of_staff(staff), app_id, base=WINDOW, home=WINDOW, batch=True)


@router.post(WINDOW.removeprefix("/staff") + "/{app_id}/scans")
async def window_scans(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    """All the scans of a paper application at once (and, with `then=submit`, its submission)."""
    staff = await page_staff(request, session, *CLERKS)
    return await casework.upload_batch(request, session, Actor.of_staff(staff), app_id, base=WINDOW, home=WINDOW)


@router.post(WINDOW.removeprefix("/staff") + "/{app_id}/materials")
async def window_upload(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session, *CLERKS)
    return await casework.upload(request, session, Actor.of_staff(staff), app_id, base=WINDOW)


@router.post(WINDOW.removeprefix("/staff") + "/{app_id}/materials/{material_id}/delete")
async def window_delete(app_id: uuid.UUID, material_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session, *CLERKS)
    return await casework.delete(request, session, Actor.of_staff(staff), app_id, material_id, base=WINDOW)


@router.post(WINDOW.removeprefix("/staff") + "/{app_id}/submit")
async def window_submit(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session, *CLERKS)
    return await casework.submit_page(request, session, Actor.of_staff(staff), app_id, base=WINDOW, home=WINDOW)


@router.post(WINDOW.removeprefix("/staff") + "/{app_id}/withdraw")
async def window_withdraw(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session, *CLERKS)
    return await casework.withdraw_page(request, session, Actor.of_staff(staff), app_id, base=WINDOW)


@router.get(WINDOW.removeprefix("/staff") + "/{app_id}/materials/{material_id}/file")
async def window_file(app_id: uuid.UUID, material_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session, *CLERKS)
    return await casework.material_file(request, session, Actor.of_staff(staff), app_id, material_id)


@router.get(WINDOW.removeprefix("/staff") + "/{app_id}/form.pdf")
async def window_form(app_id: uuid.UUID, request: Request, session: DBSession) -> Response:
    staff = await page_staff(request, session, *CLERKS)
    return await casework.form_page(session, Actor.of_staff(staff), app_id)


