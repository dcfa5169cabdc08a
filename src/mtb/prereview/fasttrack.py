"""The fast track: a submitted application whose pre-review is a full match is approved by a rule.

Off by default: an administrator turns it on per disease (`fast_track: true` in a catalog version).
An application qualifies when it is submitted and nobody holds it, no person has decided on it before
(a return is followed by a person's review again), the disease is not reviewed in two stages, every
required material is there, the disease's rules hold, every material the pre-review reads has been
read, is readable and matches in every field, and every required material is one of those (or already
marked 合格): a required material the pre-review does not read (Hubei's 核心病历, 检查报告) needs a
person's look. Anything short of that stays in the queue for a person.

The approval is the reviewer's own: the rule claims the application (submitted → in_review through
`set_status`) and calls `review.approval.approve`, which checks the approval's preconditions and makes
its rows: 合格 on the materials the rule vouches for, the status change, a final decision row naming the
rule instead of a reviewer, the filing (`grant`), the quality-sample draw (`MTB_FASTTRACK_SAMPLE_RATE`)
and the `fast_track` history event. The history's actor is the system, and the reason names the rule.
A reviewer who claims the application at the same moment wins or loses cleanly on the version guard.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.actors import SYSTEM
from mtb.applications.models import Application
from mtb.applications.service import check_rules, missing_materials, set_status
from mtb.applications.states import Status
from mtb.catalog.models import CatalogVersion
from mtb.catalog.service import ActiveCatalog, catalog_by_version_id
from mtb.db.sqlite_loop import off_loop
from mtb.errors import MTBError
from mtb.materials.models import Material
from mtb.prereview.models import MaterialPrereview, PrereviewStatus
from mtb.review.approval import Approver, approve, two_stage, unchecked_materials
from mtb.review.models import ReviewDecision
from mtb.review.schemas import MaterialVerdictIn
from mtb.settings import Settings

log = logging.getLogger("mtb.prereview")
BATCH = 100


def rule_id(app: Application, catalog: ActiveCatalog) -> str:
    return f"fast_track:{app.region_code}/{catalog.version}/{app.disease_code}"


async def blockers(session: AsyncSession, app: Application) -> list[str]:
    """Why the application does not qualify (empty: it does)."""
    return (await _assess(session, app))[0]


async def _assess(session: AsyncSession, app: Application) -> tuple[list[str], list[Material]]:
    """Why the application does not qualify, and the materials the rule vouches for (read by the
    pre-review and matching in every field, not yet marked by a person). The approval's own
    preconditions (`review.approval`) are asked here too, so that the sweep does not open a change the
    approval would refuse; `approve` checks them again as it approves."""
    catalog = await catalog_by_version_id(session, app.catalog_version_id)
    doc = catalog.document
    disease = doc.disease(app.disease_code)
    if disease is None or not disease.fast_track:
        return ["此病种未启用快速通道"], []
    if two_stage(doc, app):
        return ["此病种须经两位审核人员审核"], []
    if app.status != Status.submitted.value or app.claimed_by_id is not None:
        return ["申请不在待审核状态"], []
    if (await session.execute(select(exists().where(ReviewDecision.application_id == app.id)))).scalar_one():
        return ["已有人工审核记录，须由审核人员办理"], []
    if await missing_materials(session, app, catalog):
        return ["材料不齐全"], []
    try:
        await check_rules(session, app, catalog)
    except MTBError as exc:
        return [exc.detail], []
    materials = list((await session.execute(
        select(Material).where(Material.application_id == app.id))).scalars())
    rows = {r.material_id: r for r in (await session.execute(
        select(MaterialPrereview).where(MaterialPrereview.application_id == app.id))).scalars()}
    read = [m for m in materials if (k := doc.material_kind(m.kind)) is not None and k.prereview is not None]
    if not read:
        return ["没有可自动预审的材料"], []
    problems = []
    for m in read:
        row = rows.get(m.id)
        if row is None or row.status != PrereviewStatus.done.value:
            problems.append(f"{m.file_name}：预审未完成")
        elif not row.readable:
            problems.append(f"{m.file_name}：无法识别")
        elif not row.findings or any(f["outcome"] != "match" for f in row.findings):
            problems.append(f"{m.file_name}：预审有不一致或无法识别的项目")
    if problems:
        return problems, []
    vouched = [m for m in read if m.verdict is None]
    unchecked = await unchecked_materials(session, app, marks={m.id: "acceptable" for m in vouched})
    problems += [f"{m.file_name}：预审不读此材料，须由审核人员查看" for m in unchecked.unmarked]
    problems += [f"{m.file_name}：已标注为不清晰或无效" for m in unchecked.not_acceptable]
    return problems, vouched


async def fast_track(session: AsyncSession, app: Application, *, sample_rate: float) -> bool:
    """Approve by the rule if the application qualifies; True if it was approved. The rule claims the
    application (submitted → in_review) and approves through `review.approval.approve`, the reviewer's
    own path, giving 合格 to the materials it vouches for."""
    problems, vouched = await _assess(session, app)
    if problems:
        return False
    catalog = await catalog_by_version_id(session, app.catalog_version_id)
    rule = rule_id(app, catalog)
    await set_status(session, app, Status.in_review, actor=SYSTEM, reason=f"自动预审（{rule}）")
    note = f"自动预审全部一致，按快速通道规则审核通过（{rule}）"
    await approve(session, app, by=Approver.by_rule(rule, region_code=app.region_code),
                  verdicts=[MaterialVerdictIn(material_id=m.id, verdict="acceptable") for m in vouched],
                  note=note, reason=note, sample_rate=sample_rate)
    return True


async def offer(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                application_id: uuid.UUID) -> bool:
    """Try the fast track for one application in its own transaction; a conflict leaves it to a person."""
    try:
        async with sessionmaker() as session, session.begin():
            app = await session.get(Application, application_id)
            if app is None:
                return False
            return await fast_track(session, app, sample_rate=settings.fasttrack_sample_rate)
    except MTBError as exc:
        log.info("fast track declined", extra={"application_id": str(application_id), "error": exc.code})
        return False


async def sweep(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Offer every submitted application of a fast-track disease (after a submission, in the jobs run)."""
    async with sessionmaker() as session:
        pairs: list[tuple[int, list[str]]] = []
        for version_id in (await session.execute(select(CatalogVersion.id))).scalars():
            doc = (await catalog_by_version_id(session, version_id)).document
            if codes := [d.code for d in doc.diseases if d.fast_track]:
                pairs.append((version_id, codes))
        if not pairs:
            return 0
        # A scan where a catalog marks diseases `fast_track` (slow at scale, docs/benchmarks.md §4):
        # off the event loop on SQLite.
        candidates = list((await session.execute(off_loop(
            select(Application.id).where(
                Application.status == Status.submitted.value,
                or_(*(and_(Application.catalog_version_id == version, Application.disease_code.in_(codes))
                      for version, codes in pairs)),
                ~exists().where(MaterialPrereview.application_id == Application.id,
                                MaterialPrereview.status != PrereviewStatus.done.value))
            .order_by(Application.submitted_at).limit(BATCH)))).scalars())
    done = 0
    for application_id in candidates:
        done += await offer(sessionmaker, settings, application_id)
    return done
