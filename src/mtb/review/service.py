"""Review rules: claims, decisions with reasons and material verdicts, the senior's sample check.

An approval, the reviewer's as the fast track's, is made by `approval.approve` (its guard, four eyes,
the filing, the sample draw); a return or a rejection here. Only the reviewer holding an application's
claim decides it (`claims.require_decider`). Every state change is guarded by the
application's version, so of two racing decisions exactly one is recorded and the other gets a 409.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.service import record, set_status, update_guarded
from mtb.applications.states import LABELS, Status
from mtb.catalog.allowed import allowed_extra, spelled
from mtb.errors import Conflict, Unprocessable
from mtb.identity.models import StaffUser
from mtb.review.approval import Approver, approve
from mtb.review.claims import claim_stamp, claim_state, require_decider
from mtb.review.models import QualitySample, ReviewDecision
from mtb.review.reasons import ReasonList
from mtb.review.schemas import DecisionIn
from mtb.review.verdicts import apply_verdicts
from mtb.timeutil import utcnow


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
    state = claim_state(app, idle_minutes=idle_minutes, now=utcnow())
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
    state = claim_state(app, idle_minutes=idle_minutes, now=utcnow())
    if state.holder_id != staff.id:
        raise Conflict("not_claim_holder", "您没有领取此申请")
    await update_guarded(session, app, claimed_by_id=None, claimed_at=None)
    await record(session, app, "release", actor=Actor.of_staff(staff))


async def release_if_held(session: AsyncSession, *, staff: StaffUser, app_id: uuid.UUID, idle_minutes: int,
                          stamp: str | None = None) -> bool:
    """Release the application if this reviewer holds it (leaving it undecided); otherwise nothing. With
    `stamp` (`claims.claim_stamp` of the claim a page showed), only if the claim is still that one."""
    app = await session.get(Application, app_id)
    if app is None or app.region_code != staff.region_code or app.status != Status.in_review:
        return False
    if claim_state(app, idle_minutes=idle_minutes, now=utcnow()).holder_id != staff.id:
        return False
    if stamp is not None and stamp != claim_stamp(app):
        return False
    await release(session, app, staff=staff, idle_minutes=idle_minutes)
    return True


async def refresh_claim(session: AsyncSession, app: Application, *, staff: StaffUser, idle_minutes: int) -> bool:
    """Renew this reviewer's live claim (opening the application again is work on it); False if they hold
    none."""
    state = claim_state(app, idle_minutes=idle_minutes, now=utcnow())
    if app.status != Status.in_review or not state.active or state.holder_id != staff.id:
        return False
    await update_guarded(session, app, claimed_at=utcnow())
    return True


async def retake_lapsed_claim(session: AsyncSession, app: Application, *, staff: StaffUser, idle_minutes: int,
                              shown_round: str) -> None:
    """A claim that lapsed while its reviewer worked on the page (longer than the idle time without a load)
    is taken again at the decision, so nothing ticked or typed is lost; unless someone else holds it now
    (`claimed_by_other`, naming them), it was decided meanwhile (`not_claimable`), or it was decided and
    submitted again since the page was shown (`page_outdated`: the page shows an earlier round's materials)."""
    state = claim_state(app, idle_minutes=idle_minutes, now=utcnow())
    if state.active and state.holder_id == staff.id:
        return
    if shown_round != str(app.round):
        raise Conflict("page_outdated", f"该申请已重新提交（第 {app.round} 次提交），请刷新页面查看后再审核")
    await claim(session, app, staff=staff, idle_minutes=idle_minutes)


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


async def decide(session: AsyncSession, app: Application, *, staff: StaffUser, payload: DecisionIn,
                 reasons: ReasonList, idle_minutes: int, sample_rate: float) -> ReviewDecision:
    """Approve (through `approval.approve`, the one approval path), return or reject."""
    require_decider(app, staff_id=staff.id, idle_minutes=idle_minutes, now=utcnow())
    checked = _check_reasons(payload, reasons)
    summary = "；".join(r["name"] + (f"（{r['detail']}）" if r["detail"] else "") for r in checked) or None
    if payload.outcome == "approve":
        return await approve(session, app, by=Approver.reviewer(staff, idle_minutes=idle_minutes),
                             verdicts=payload.materials, all_acceptable=payload.all_acceptable,
                             confirm_unmarked=payload.confirm_unmarked, reasons=checked, note=payload.note,
                             reason=summary, sample_rate=sample_rate)
    verdicts = await apply_verdicts(session, app, payload.materials, all_acceptable=payload.all_acceptable)
    actor = Actor.of_staff(staff)
    if app.pending_approval_by_id == staff.id:
        raise Conflict("four_eyes_required", "该申请已由您初审通过，需由另一位审核人员复核")
    target = Status.returned if payload.outcome == "return" else Status.rejected
    await set_status(session, app, target, actor=actor, reason=summary, claimed_by_id=None, claimed_at=None,
                     pending_approval_by_id=None)
    decision = ReviewDecision(application_id=app.id, round=app.round, outcome=payload.outcome, final=True,
                              reasons=checked, material_verdicts=verdicts, note=payload.note,
                              reviewer_id=staff.id, decided_at=utcnow())
    session.add(decision)
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
