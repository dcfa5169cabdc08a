"""Approving an application: the one path for a reviewer's approval and for the fast track's.

A reviewer approves through `service.decide`, the pre-review's fast track through
`prereview.fasttrack.fast_track`; both call `approve`, which checks every precondition and makes every
row of an approval, once:

1. the approver may decide it: the application is of the approver's region and in review; a reviewer
   holds its live claim, a rule finds nobody holding it (`claims.require_decider`);
2. four eyes: the reviewer of a first approval cannot confirm it, and a rule never approves a disease
   reviewed in two stages (an approval there needs two people; a rule is none);
3. every required material is there and the disease's rules hold (checked at submission, checked
   again so that no approval rests on that having happened);
4. the verdicts given are recorded on the materials (the fast track gives 合格 to each material the
   pre-review read and found matching in every field, never over a person's verdict);
5. the approval guard: every required material is marked 合格; one marked 不清晰 or 无效 is never
   approved; one left unmarked only when a reviewer confirms it, audited (`approved_unmarked`) — a rule
   cannot confirm, so a required material the pre-review does not read leaves the application to a person;
6. the change: on a two-stage disease a reviewer's first approval records itself (`first_approval`, no
   status change); otherwise `set_status` to approved (the history row, the notifications, the webhook
   outbox message), the final decision row naming the reviewer or the rule, `grant` (the filing), the
   quality-sample draw and, for a rule, its `fast_track` history event naming the rule.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.service import check_rules, record, require_complete, set_status, update_guarded
from mtb.applications.states import Status
from mtb.catalog.document import CatalogDocument
from mtb.catalog.service import catalog_by_version_id
from mtb.errors import Conflict, NotFound
from mtb.identity.models import StaffUser
from mtb.materials.models import Material
from mtb.qualifications.service import grant
from mtb.review.claims import require_decider
from mtb.review.models import QualitySample, ReviewDecision
from mtb.review.schemas import MaterialVerdictIn
from mtb.review.verdicts import apply_verdicts
from mtb.timeutil import utcnow

_random = secrets.SystemRandom()
# The history action of an approval by a rule (the fast track is the one rule that approves).
RULE_APPROVAL = "fast_track"


@dataclass(frozen=True)
class Approver:
    """Who approves: a reviewer (`staff_id`, deciding within `idle_minutes` of their claim) or a rule
    (`rule`, e.g. `fast_track:<region>/<catalog version>/<disease>`, acting as the system)."""

    actor: Actor
    region_code: str
    staff_id: uuid.UUID | None = None
    rule: str | None = None
    idle_minutes: int = 0

    @classmethod
    def reviewer(cls, staff: StaffUser, *, idle_minutes: int) -> Approver:
        return cls(Actor.of_staff(staff), staff.region_code, staff_id=staff.id, idle_minutes=idle_minutes)

    @classmethod
    def by_rule(cls, rule: str, *, region_code: str) -> Approver:
        return cls(Actor("system", None), region_code, rule=rule)


def two_stage(doc: CatalogDocument, app: Application) -> bool:
    """The disease's approvals need a second reviewer's confirmation."""
    disease = doc.disease(app.disease_code)
    return bool(disease and disease.two_stage_review)


@dataclass(frozen=True)
class UncheckedMaterials:
    """The required materials an approval would pass without each being marked 合格."""

    unmarked: list[Material]
    not_acceptable: list[Material]


async def unchecked_materials(session: AsyncSession, app: Application, *,
                              marks: dict[uuid.UUID, str] | None = None) -> UncheckedMaterials:
    """The required materials not marked 合格, counting `marks` (verdicts about to be given) as given."""
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    disease = doc.disease(app.disease_code)
    required = {r.kind for r in doc.materials_for(disease, app.kind) if r.required} if disease else set()
    marks = marks or {}
    materials = [m for m in (await session.execute(
        select(Material).where(Material.application_id == app.id)
        .order_by(Material.created_at, Material.id))).scalars() if m.kind in required]
    verdict = {m.id: marks.get(m.id, m.verdict) for m in materials}
    return UncheckedMaterials(unmarked=[m for m in materials if verdict[m.id] is None],
                              not_acceptable=[m for m in materials if verdict[m.id] not in (None, "acceptable")])


def _names(kind_names: dict[str, str], materials: list[Material]) -> str:
    return "、".join(f"{kind_names.get(m.kind, m.kind)}（{m.file_name}）" for m in materials)


async def _guard_materials(session: AsyncSession, app: Application, doc: CatalogDocument, *, actor: Actor,
                           confirm_unmarked: bool) -> None:
    """Every required material marked 合格; 不清晰 or 无效 never; unmarked only when confirmed, audited."""
    check = await unchecked_materials(session, app)
    if not (check.unmarked or check.not_acceptable):
        return
    names = {k.kind: k.name for k in doc.material_kinds}
    if check.not_acceptable:
        raise Conflict("materials_not_acceptable",
                       f"以下材料标注为不清晰或无效，不能审核通过：{_names(names, check.not_acceptable)}。"
                       "请改为退回补正，或重新标注",
                       extra={"materials": [str(m.id) for m in check.not_acceptable]})
    if not confirm_unmarked:
        raise Conflict("materials_unmarked",
                       f"以下必需材料尚未标注为合格：{_names(names, check.unmarked)}。"
                       "请逐项标注（或“全部合格”），或确认未标注也通过",
                       extra={"materials": [str(m.id) for m in check.unmarked]})
    await record(session, app, "approved_unmarked", actor=actor,
                 detail={"materials": [{"material_id": str(m.id), "kind": m.kind} for m in check.unmarked]})


async def approve(session: AsyncSession, app: Application, *, by: Approver,
                  verdicts: Sequence[MaterialVerdictIn] = (), all_acceptable: bool = False,
                  confirm_unmarked: bool = False, reasons: list[dict[str, str]] | None = None,
                  note: str | None = None, reason: str | None = None, sample_rate: float) -> ReviewDecision:
    """Approve (or, on a two-stage disease, approve in the first stage): the steps in the module
    docstring. `reason` goes into the status history, `note` into the decision row. Refusals raise
    before anything is written but the verdicts, which the caller's transaction rolls back with them."""
    if app.region_code != by.region_code:
        raise NotFound("application_not_found", "申请不存在")
    require_decider(app, staff_id=by.staff_id, idle_minutes=by.idle_minutes)
    catalog = await catalog_by_version_id(session, app.catalog_version_id)
    doc = catalog.document
    staged = two_stage(doc, app)
    if by.rule is not None and staged:
        raise Conflict("four_eyes_required", "此病种须经两位审核人员审核，不能按规则自动通过")
    if by.staff_id is not None and app.pending_approval_by_id == by.staff_id:
        raise Conflict("four_eyes_required", "该申请已由您初审通过，需由另一位审核人员复核")
    await require_complete(session, app, catalog)
    await check_rules(session, app, catalog)
    applied = await apply_verdicts(session, app, verdicts, all_acceptable=all_acceptable)
    await _guard_materials(session, app, doc, actor=by.actor, confirm_unmarked=confirm_unmarked and by.rule is None)
    now = utcnow()
    first_stage = staged and app.pending_approval_by_id is None
    if first_stage:
        await update_guarded(session, app, pending_approval_by_id=by.staff_id, claimed_by_id=None, claimed_at=None)
        await record(session, app, "first_approval", actor=by.actor, reason=note)
    else:
        await set_status(session, app, Status.approved, actor=by.actor, reason=reason, claimed_by_id=None,
                         claimed_at=None, pending_approval_by_id=None)
    decision = ReviewDecision(application_id=app.id, round=app.round, outcome="approve", final=not first_stage,
                              reasons=reasons or [], material_verdicts=applied, note=note,
                              reviewer_id=by.staff_id, rule=by.rule, decided_at=now)
    session.add(decision)
    await session.flush()
    if first_stage:
        return decision
    await grant(session, app, at=now, actor=by.actor)
    sampled = sample_rate > 0 and _random.random() < sample_rate
    if sampled:
        session.add(QualitySample(application_id=app.id, region_code=app.region_code, decision_id=decision.id,
                                  drawn_at=now))
        await session.flush()
    if by.rule is not None:
        await record(session, app, RULE_APPROVAL, actor=by.actor, detail={"rule": by.rule, "sampled": sampled})
    return decision
