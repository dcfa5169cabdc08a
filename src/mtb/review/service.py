"""Review rules: claims, decisions with reasons and material verdicts, four-eyes approval, sampling.

Only the reviewer holding an application's claim decides it. Every state change is guarded by the
application's version, so of two racing decisions exactly one is recorded and the other gets a 409.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.service import record, set_status, update_guarded
from mtb.applications.states import LABELS, Status
from mtb.catalog.allowed import allowed_extra, spelled
from mtb.catalog.service import catalog_by_version_id
from mtb.errors import Conflict, Unprocessable
from mtb.identity.models import StaffUser
from mtb.materials.models import Material
from mtb.qualifications.service import grant
from mtb.review.models import QualitySample, ReviewDecision
from mtb.review.reasons import ReasonList
from mtb.review.schemas import DecisionIn, MaterialVerdictIn
from mtb.timeutil import utcnow

_random = secrets.SystemRandom()


@dataclass(frozen=True)
class ClaimState:
    holder_id: uuid.UUID | None
    active: bool


class Claimable(Protocol):
    claimed_by_id: uuid.UUID | None
    claimed_at: datetime | None


def claim_state(app: Claimable, *, idle_minutes: int, now: datetime | None = None) -> ClaimState:
    if app.claimed_by_id is None or app.claimed_at is None:
        return ClaimState(None, False)
    active = app.claimed_at + timedelta(minutes=idle_minutes) > (now or utcnow())
    return ClaimState(app.claimed_by_id, active)


async def _holder_name(session: AsyncSession, staff_id: uuid.UUID) -> str:
    staff = await session.get(StaffUser, staff_id)
    return staff.username if staff else str(staff_id)


async def claim(session: AsyncSession, app: Application, *, staff: StaffUser, idle_minutes: int) -> None:
    """Take (or refresh) the application for review; a lapsed claim of someone else can be taken over."""
    status = Status(app.status)
    if status not in (Status.submitted, Status.in_review):
        raise Conflict("not_claimable", f"申请当前状态为“{LABELS[status]}”，无需审核")
    if app.pending_approval_by_id == staff.id:
        raise Conflict("four_eyes_required", "该申请已由您初审通过，需由另一位审核人员复核")
    state = claim_state(app, idle_minutes=idle_minutes)
    if state.active and state.holder_id != staff.id:
        assert state.holder_id is not None
        holder = await _holder_name(session, state.holder_id)
        raise Conflict("claimed_by_other", f"该申请正由 {holder} 审核", extra={"holder": holder})
    actor = Actor.of_staff(staff)
    now = utcnow()
    try:
        if status == Status.submitted:
            await set_status(session, app, Status.in_review, actor=actor, claimed_by_id=staff.id, claimed_at=now)
        else:
            await update_guarded(session, app, claimed_by_id=staff.id, claimed_at=now)
    except Conflict:
        # Someone claimed it a moment ago: say who.
        holder_id = (await session.execute(select(Application.claimed_by_id).where(
            Application.id == app.id).execution_options(populate_existing=True))).scalar_one_or_none()
        if holder_id is not None and holder_id != staff.id:
            holder = await _holder_name(session, holder_id)
            raise Conflict("claimed_by_other", f"该申请正由 {holder} 审核", extra={"holder": holder}) from None
        raise
    await record(session, app, "claim", actor=actor,
                 detail={"took_over_from": str(state.holder_id)} if state.holder_id not in (None, staff.id) else None)


async def release(session: AsyncSession, app: Application, *, staff: StaffUser, idle_minutes: int) -> None:
    state = claim_state(app, idle_minutes=idle_minutes)
    if state.holder_id != staff.id:
        raise Conflict("not_claim_holder", "您没有领取此申请")
    await update_guarded(session, app, claimed_by_id=None, claimed_at=None)
    await record(session, app, "release", actor=Actor.of_staff(staff))


async def release_if_held(session: AsyncSession, *, staff: StaffUser, app_id: uuid.UUID, idle_minutes: int) -> bool:
    """Release the application if this reviewer holds it (leaving it undecided); otherwise nothing."""
    app = await session.get(Application, app_id)
    if app is None or app.region_code != staff.region_code or app.status != Status.in_review:
        return False
    if claim_state(app, idle_minutes=idle_minutes).holder_id != staff.id:
        return False
    await release(session, app, staff=staff, idle_minutes=idle_minutes)
    return True


def _check_reasons(payload: DecisionIn, reasons: ReasonList) -> list[dict[str, str]]:
    checked = []
    for i, given in enumerate(payload.reasons):
        code = reasons.get(given.code)
        if code is None:
            codes = [(r.code, r.name) for r in reasons.reasons]
            raise Unprocessable("reason_code_unknown",
                                f"第 {i + 1} 条原因的代码 {given.code} 不存在，code 可为：{spelled(codes)}",
                                extra=allowed_extra(codes))
        detail = (given.detail or "").strip()
        if code.needs_detail and not detail:
            raise Unprocessable("reason_detail_required", f"选择“{code.name}”时请写明具体原因")
        checked.append({"code": code.code, "name": code.name, "detail": detail})
    if payload.outcome in ("return", "reject") and not checked:
        raise Unprocessable("reason_required", "退回或不予通过时至少选择一条原因")
    return checked


async def _apply_verdicts(session: AsyncSession, app: Application, payload: DecisionIn) -> list[dict[str, str]]:
    """Record the verdicts given (and, with `all_acceptable`, 合格 for every material given none)."""
    materials = {m.id: m for m in (await session.execute(
        select(Material).where(Material.application_id == app.id))).scalars()}
    given = {v.material_id: v for v in payload.materials}
    for material_id in given:
        if material_id not in materials:
            raise Unprocessable("material_not_in_application", "所标注的材料不属于此申请")
    if payload.all_acceptable:
        given = {m: given.get(m) or MaterialVerdictIn(material_id=m, verdict="acceptable") for m in materials}
    verdicts = []
    for v in given.values():
        await session.execute(update(Material).where(Material.id == v.material_id)
                              .values(verdict=v.verdict, verdict_comment=v.comment))
        materials[v.material_id].verdict = v.verdict
        verdicts.append({"material_id": str(v.material_id), "verdict": v.verdict, "comment": v.comment or ""})
    return verdicts


@dataclass(frozen=True)
class UncheckedMaterials:
    """The required materials an approval would pass without each being marked 合格."""

    unmarked: list[Material]
    not_acceptable: list[Material]


async def unchecked_materials(session: AsyncSession, app: Application) -> UncheckedMaterials:
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    disease = doc.disease(app.disease_code)
    required = {r.kind for r in doc.materials_for(disease, app.kind) if r.required} if disease else set()
    materials = [m for m in (await session.execute(
        select(Material).where(Material.application_id == app.id)
        .order_by(Material.created_at, Material.id))).scalars() if m.kind in required]
    return UncheckedMaterials(unmarked=[m for m in materials if m.verdict is None],
                              not_acceptable=[m for m in materials if m.verdict not in (None, "acceptable")])


def _names(kind_names: dict[str, str], materials: list[Material]) -> str:
    return "、".join(f"{kind_names.get(m.kind, m.kind)}（{m.file_name}）" for m in materials)


async def _guard_approval(session: AsyncSession, app: Application, payload: DecisionIn,
                          actor: Actor) -> None:
    """An approval needs every required material marked 合格; a required material marked 不清晰 or 无效 is
    never approved; one left 未标注 only with `confirm_unmarked`, which is audited with the materials."""
    check = await unchecked_materials(session, app)
    if not (check.unmarked or check.not_acceptable):
        return
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    names = {k.kind: k.name for k in doc.material_kinds}
    if check.not_acceptable:
        raise Conflict("materials_not_acceptable",
                       f"以下材料标注为不清晰或无效，不能审核通过：{_names(names, check.not_acceptable)}。"
                       "请改为退回补正，或重新标注",
                       extra={"materials": [str(m.id) for m in check.not_acceptable]})
    if not payload.confirm_unmarked:
        raise Conflict("materials_unmarked",
                       f"以下必需材料尚未标注为合格：{_names(names, check.unmarked)}。"
                       "请逐项标注（或“全部合格”），或确认未标注也通过",
                       extra={"materials": [str(m.id) for m in check.unmarked]})
    await record(session, app, "approved_unmarked", actor=actor,
                 detail={"materials": [{"material_id": str(m.id), "kind": m.kind} for m in check.unmarked]})


async def decide(session: AsyncSession, app: Application, *, staff: StaffUser, payload: DecisionIn,
                 reasons: ReasonList, idle_minutes: int, sample_rate: float) -> ReviewDecision:
    status = Status(app.status)
    if status != Status.in_review:
        raise Conflict("not_in_review", f"申请当前状态为“{LABELS[status]}”，请先领取后再审核")
    state = claim_state(app, idle_minutes=idle_minutes)
    if not (state.active and state.holder_id == staff.id):
        raise Conflict("not_claim_holder", "只有领取此申请的审核人员可以作出决定，请先领取")
    checked = _check_reasons(payload, reasons)
    verdicts = await _apply_verdicts(session, app, payload)
    actor = Actor.of_staff(staff)
    if payload.outcome == "approve":
        await _guard_approval(session, app, payload, actor)
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    disease = doc.disease(app.disease_code)
    two_stage = bool(disease and disease.two_stage_review)
    now = utcnow()
    summary = "；".join(r["name"] + (f"（{r['detail']}）" if r["detail"] else "") for r in checked) or None
    first_stage = payload.outcome == "approve" and two_stage and app.pending_approval_by_id is None
    if first_stage:
        await update_guarded(session, app, pending_approval_by_id=staff.id, claimed_by_id=None, claimed_at=None)
        await record(session, app, "first_approval", actor=actor, reason=payload.note)
    else:
        if app.pending_approval_by_id == staff.id:
            raise Conflict("four_eyes_required", "该申请已由您初审通过，需由另一位审核人员复核")
        target = {"approve": Status.approved, "return": Status.returned, "reject": Status.rejected}[payload.outcome]
        await set_status(session, app, target, actor=actor, reason=summary, claimed_by_id=None, claimed_at=None,
                         pending_approval_by_id=None)
    decision = ReviewDecision(application_id=app.id, round=app.round, outcome=payload.outcome,
                              final=not first_stage, reasons=checked, material_verdicts=verdicts,
                              note=payload.note, reviewer_id=staff.id, decided_at=now)
    session.add(decision)
    await session.flush()
    if payload.outcome == "approve" and not first_stage:
        await grant(session, app, at=now, actor=actor)
        if sample_rate > 0 and _random.random() < sample_rate:
            session.add(QualitySample(application_id=app.id, region_code=app.region_code,
                                      decision_id=decision.id, drawn_at=now))
            await session.flush()
    return decision


async def check_sample(session: AsyncSession, sample: QualitySample, *, staff: StaffUser, result: str,
                       note: str | None) -> None:
    if sample.checked_at is not None:
        raise Conflict("sample_already_checked", "该抽查已完成")
    approver = (await session.execute(select(ReviewDecision.reviewer_id).where(
        ReviewDecision.id == sample.decision_id))).scalar_one()
    if approver == staff.id:
        raise Conflict("four_eyes_required", "抽查须由审核通过人以外的人员进行")
    outcome = await session.execute(
        update(QualitySample).where(QualitySample.id == sample.id, QualitySample.checked_at.is_(None))
        .values(checked_by_id=staff.id, checked_at=utcnow(), result=result, note=note)
        .execution_options(synchronize_session=False))
    if outcome.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("sample_already_checked", "该抽查已完成")
    await session.refresh(sample)
    app = await session.get(Application, sample.application_id)
    assert app is not None
    await record(session, app, "quality_check", actor=Actor.of_staff(staff), detail={"result": result},
                 reason=note)
