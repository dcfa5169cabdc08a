"""One approval path (review/approval.py): the fast track approves nothing the reviewer's path refuses,
however the application falls short, and an approval by either makes the same rows (status, decision,
filing, history, notifications, the webhook outbox message)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.applications.models import Application, ApplicationEvent
from mtb.applications.service import set_status
from mtb.applications.states import Status
from mtb.catalog.loader import ParsedCatalog
from mtb.errors import MTBError
from mtb.identity.models import StaffRole, StaffUser
from mtb.materials.models import Material
from mtb.notifications.models import Notification
from mtb.prereview.compare import Finding
from mtb.prereview.fasttrack import offer
from mtb.prereview.models import MaterialPrereview, PrereviewStatus
from mtb.qualifications.models import Qualification, QualificationEvent
from mtb.review.approval import Approver, approve
from mtb.review.models import QualitySample, ReviewDecision
from mtb.review.reasons import load_reasons
from mtb.review.schemas import DecisionIn, MaterialVerdictIn
from mtb.review.service import claim, decide
from mtb.settings import Settings
from mtb.webhooks.models import WebhookMessage
from tests.applications.helpers import BEIJING_SELF, HUBEI, create, submit, upload
from tests.factories import SHENNONGJIA, Person, Seed, reference_catalogs
from tests.files import document_photo
from tests.webhooks.receiver import allowing_private_addresses
from tests.webhooks.test_webhooks import endpoint

BEIJING = "110000"
IDLE = 30
REASONS = load_reasons(Path(__file__).resolve().parents[2] / "data" / "review" / "reason-codes.yaml")
# The diseases an administrator turned the fast track on for, in a later catalog version of each region.
RULED = {"BJ-TUMOR-CHEMO", "BJ-MS", "HB-CRF-DIALYSIS"}
KINDS = {"BJ-TUMOR-CHEMO": ["diagnosis_certificate", "filing_form"],
         "BJ-MS": ["diagnosis_certificate", "filing_form"],
         "HB-CRF-DIALYSIS": ["identity_front", "identity_back", "medical_records", "exam_reports",
                             "diagnosis_certificate"]}


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A channel's endpoint on 127.0.0.1 (its messages wait in the outbox: no delivery worker here)."""
    return allowing_private_addresses(monkeypatch)


async def rule_catalogs(seed: Seed, *, two_stage: frozenset[str] = frozenset()) -> None:
    refs = list(reference_catalogs())
    variants = []
    for i, ref in enumerate(refs):
        diseases = [d.model_copy(update={"fast_track": d.code in RULED, "two_stage_review": d.code in two_stage})
                    for d in ref.document.diseases]
        doc = ref.document.model_copy(update={"version": "2025.2-test", "effective_from": date(2025, 3, 1),
                                              "diseases": diseases})
        # The documents are cached by version id and hash: a hash of its own for each variant.
        sha256 = hashlib.sha256(doc.model_dump_json().encode()).hexdigest()
        variants.append(ParsedCatalog(file=f"rule-{i}.yaml", document=doc, sha256=sha256))
    await seed.catalogs(refs + variants)


async def person_for(seed: Seed, disease: str, name: str) -> Person:
    return await seed.person(name=name, region_code=SHENNONGJIA if disease.startswith("HB-") else BEIJING)


async def ready(client: httpx.AsyncClient, seed: Seed, person: Person, disease: str, *,
                submitted: bool = True) -> uuid.UUID:
    """An application the rule would approve: every material there, and every one the pre-review reads
    read, readable and matching in every field."""
    headers = await seed.login(person)
    payload = (HUBEI if disease.startswith("HB-") else BEIJING_SELF) | {"disease_code": disease}
    response = await create(client, headers, **payload)
    assert response.status_code == 201, response.text
    app_id = response.json()["id"]
    for i, kind in enumerate(KINDS[disease]):
        fields = {"physician_title": "associate_chief"} if kind == "diagnosis_certificate" else {}
        uploaded = await upload(client, headers, app_id, kind, document_photo(seed=i), name=f"{kind}.jpg", **fields)
        assert uploaded.status_code == 201, uploaded.text
    if submitted:
        assert (await submit(client, headers, app_id)).status_code == 200
    finding = Finding("name", "match", person.name, person.name).to_json()
    async with seed.sessionmaker() as s, s.begin():
        await s.execute(update(MaterialPrereview).where(MaterialPrereview.application_id == uuid.UUID(app_id))
                        .values(status=PrereviewStatus.done.value, readable=True, findings=[finding]))
    return uuid.UUID(app_id)


async def rule_marks(session: AsyncSession, app: Application) -> list[MaterialVerdictIn]:
    """The verdicts the rule gives: 合格 for each unmarked material read in full agreement."""
    rows = (await session.execute(select(Material, MaterialPrereview).join(
        MaterialPrereview, MaterialPrereview.material_id == Material.id).where(
        Material.application_id == app.id))).all()
    return [MaterialVerdictIn(material_id=m.id, verdict="acceptable") for m, r in rows
            if m.verdict is None and r.status == PrereviewStatus.done.value and r.readable and r.findings
            and all(f["outcome"] == "match" for f in r.findings)]


async def snapshot(seed: Seed, app_id: uuid.UUID) -> dict[str, Any]:
    """Everything an approval would write about the application."""
    async with seed.sessionmaker() as s:
        app = await s.get(Application, app_id)
        assert app is not None
        counts = {}
        for model in (ReviewDecision, Qualification, QualitySample, ApplicationEvent, Notification):
            counts[model.__tablename__] = (await s.execute(select(func.count()).select_from(model).where(
                model.application_id == app_id))).scalar_one()
        messages = [json.loads(b) for b in (await s.execute(select(WebhookMessage.body))).scalars()]
        return {"app": (app.status, app.version, app.claimed_by_id, app.pending_approval_by_id),
                "verdicts": sorted((m.kind, m.verdict or "") for m in (await s.execute(
                    select(Material).where(Material.application_id == app_id))).scalars()),
                "counts": counts,
                "outbox": [m["type"] for m in messages if m["data"].get("application_id") == str(app_id)]}


async def _set_verdict(s: AsyncSession, app: Application, kind: str, verdict: str) -> None:
    await s.execute(update(Material).where(Material.application_id == app.id, Material.kind == kind)
                    .values(verdict=verdict))


async def _set_prereview(s: AsyncSession, app: Application, **values: Any) -> None:
    material = (await s.execute(select(Material.id).where(
        Material.application_id == app.id, Material.kind == "diagnosis_certificate"))).scalar_one()
    await s.execute(update(MaterialPrereview).where(MaterialPrereview.material_id == material).values(**values))


async def _remove_filing_form(s: AsyncSession, app: Application) -> None:
    form = select(Material.id).where(Material.application_id == app.id, Material.kind == "filing_form")
    await s.execute(delete(MaterialPrereview).where(MaterialPrereview.material_id.in_(form)))
    await s.execute(delete(Material).where(Material.id.in_(form)))


async def _title_below_rule(s: AsyncSession, app: Application) -> None:
    await s.execute(update(Material).where(Material.application_id == app.id,
                                           Material.kind == "diagnosis_certificate")
                    .values(fields={"physician_title": "attending"}))


async def _claimed(s: AsyncSession, app: Application, staff: StaffUser) -> None:
    await claim(s, app, staff=staff, idle_minutes=IDLE)


def _decided(outcome: str) -> Callable[[AsyncSession, Application, StaffUser], Awaitable[None]]:
    async def spoil(s: AsyncSession, app: Application, staff: StaffUser) -> None:
        await claim(s, app, staff=staff, idle_minutes=IDLE)
        reasons = [] if outcome == "approve" else [{"code": "material_unclear", "detail": "看不清"}]
        await decide(s, app, staff=staff, reasons=REASONS, idle_minutes=IDLE, sample_rate=0,
                     payload=DecisionIn.model_validate({"outcome": outcome, "reasons": reasons,
                                                        "all_acceptable": True}))
    return spoil


async def _withdrawn(s: AsyncSession, app: Application, staff: StaffUser) -> None:
    await set_status(s, app, Status.withdrawn, actor=Actor("person", app.beneficiary_id))


Spoil = Callable[[AsyncSession, Application, StaffUser], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    name: str
    code: str  # what the approval answers the rule
    spoil: Spoil | None = None
    disease: str = "BJ-TUMOR-CHEMO"
    two_stage: bool = False
    submitted: bool = True


def _staffless(fn: Callable[[AsyncSession, Application], Awaitable[None]]) -> Spoil:
    async def spoil(s: AsyncSession, app: Application, _staff: StaffUser) -> None:
        await fn(s, app)
    return spoil


CASES = [
    Case("a required material the pre-review does not read", "materials_unmarked", disease="HB-CRF-DIALYSIS"),
    Case("a material marked unclear", "materials_not_acceptable",
         _staffless(lambda s, a: _set_verdict(s, a, "filing_form", "unclear"))),
    Case("a material marked invalid", "materials_not_acceptable",
         _staffless(lambda s, a: _set_verdict(s, a, "diagnosis_certificate", "invalid"))),
    Case("a finding that does not match", "materials_unmarked",
         _staffless(lambda s, a: _set_prereview(s, a, findings=[Finding("name", "mismatch", "李四", "王五").to_json()]))),
    Case("an unreadable material", "materials_unmarked", _staffless(lambda s, a: _set_prereview(s, a, readable=False))),
    Case("a pre-review not finished", "materials_unmarked",
         _staffless(lambda s, a: _set_prereview(s, a, status=PrereviewStatus.pending.value))),
    Case("a required material missing", "materials_incomplete", _staffless(_remove_filing_form)),
    Case("a disease rule not met", "physician_title_insufficient", _staffless(_title_below_rule), disease="BJ-MS"),
    Case("a disease reviewed in two stages", "four_eyes_required", two_stage=True),
    Case("claimed by a reviewer", "not_claim_holder", _claimed),
    Case("a draft", "not_in_review", submitted=False),
    Case("withdrawn", "not_in_review", _withdrawn),
    Case("returned", "not_in_review", _decided("return")),
    Case("already approved", "not_in_review", _decided("approve")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_the_fast_track_approves_nothing_the_reviewer_path_refuses(
        case: Case, client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any) -> None:
    clock.set("2025-06-02")
    await rule_catalogs(seed, two_stage=frozenset({case.disease}) if case.two_stage else frozenset())
    region = SHENNONGJIA if case.disease.startswith("HB-") else BEIJING
    holder = await seed.staff("rev_a", StaffRole.reviewer, region)
    reviewer = await seed.staff("rev_b", StaffRole.reviewer, region)
    app_id = await ready(client, seed, await person_for(seed, case.disease, "甲"), case.disease,
                         submitted=case.submitted)
    if case.spoil is not None:
        async with seed.sessionmaker() as s, s.begin():
            app = await s.get(Application, app_id)
            assert app is not None
            await case.spoil(s, app, holder)
    before = await snapshot(seed, app_id)
    sampled = settings.model_copy(update={"fasttrack_sample_rate": 1.0})

    # The fast track as the sweep offers it: declined, nothing written.
    assert await offer(seed.sessionmaker, sampled, app_id) is False
    assert await snapshot(seed, app_id) == before

    # The approval itself refuses the rule, asked directly after the rule's claim (without the fast
    # track's own look ahead), with the verdicts the rule gives.
    async with seed.sessionmaker() as s:
        app = await s.get(Application, app_id)
        assert app is not None
        if app.status == Status.submitted and app.claimed_by_id is None:
            await set_status(s, app, Status.in_review, actor=Actor("system", None))
        with pytest.raises(MTBError) as refused:
            await approve(s, app, by=Approver.by_rule("fast_track:test", region_code=app.region_code),
                          verdicts=await rule_marks(s, app), note="test", reason="test", sample_rate=1.0)
        assert refused.value.code == case.code, refused.value.detail
        await s.rollback()
    assert await snapshot(seed, app_id) == before

    # The reviewer's path, given the same verdicts (and no confirmation of unmarked materials), does not
    # approve either: refused, or on a two-stage disease only the first of two approvals.
    async with seed.sessionmaker() as s:
        app = await s.get(Application, app_id)
        assert app is not None
        marks = await rule_marks(s, app)
        try:
            await claim(s, app, staff=reviewer, idle_minutes=IDLE)
            await decide(s, app, staff=reviewer, payload=DecisionIn(outcome="approve", materials=marks),
                         reasons=REASONS, idle_minutes=IDLE, sample_rate=0)
        except MTBError:
            pass
        else:
            assert case.two_stage and app.status == Status.in_review and app.pending_approval_by_id == reviewer.id
        await s.rollback()


async def approval_rows(seed: Seed, app_id: uuid.UUID) -> dict[str, Any]:
    """What an approval wrote, without what names the application, the person or the approver."""
    async with seed.sessionmaker() as s:
        app = await s.get(Application, app_id)
        assert app is not None
        decision = (await s.execute(select(ReviewDecision).where(ReviewDecision.application_id == app_id))).scalar_one()
        kinds = {str(m.id): m.kind for m in (await s.execute(
            select(Material).where(Material.application_id == app_id))).scalars()}
        q = (await s.execute(select(Qualification).where(Qualification.application_id == app_id))).scalar_one()
        q_events = list((await s.execute(select(QualificationEvent.action).where(
            QualificationEvent.qualification_id == q.id))).scalars())
        changes = [(e.from_status, e.to_status, e.round) for e in (await s.execute(
            select(ApplicationEvent).where(ApplicationEvent.application_id == app_id, ApplicationEvent.action == "status")
            .order_by(ApplicationEvent.id))).scalars()]
        notices = sorted((await s.execute(select(Notification.kind).where(
            Notification.application_id == app_id))).scalars())
        outbox = []
        for body in (await s.execute(select(WebhookMessage.body).order_by(WebhookMessage.created_at))).scalars():
            message = json.loads(body)
            if message["data"].get("application_id") == str(app_id):
                data = {k: v for k, v in message["data"].items()
                        if k not in ("application_id", "case_number", "person_id", "links")}
                outbox.append((message["type"], data))
        samples = (await s.execute(select(func.count()).select_from(QualitySample).where(
            QualitySample.application_id == app_id, QualitySample.decision_id == decision.id))).scalar_one()
        return {
            "application": (app.status, app.claimed_by_id, app.claimed_at, app.pending_approval_by_id),
            "materials": sorted((m.kind, m.verdict) for m in (await s.execute(
                select(Material).where(Material.application_id == app_id))).scalars()),
            "decision": (decision.outcome, decision.final, decision.round, decision.reasons,
                         sorted((kinds[v["material_id"]], v["verdict"]) for v in decision.material_verdicts)),
            "filing": (q.status, q.region_code, q.disease_code, q.hospital_code, q.insurance_type,
                       q.effective_from, q.valid_until, q.review_period_years, q.benefits, q_events),
            "history": changes, "notifications": notices, "outbox": outbox, "samples": samples,
        }


async def test_the_reviewer_and_the_fast_track_make_the_same_rows(
        client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any) -> None:
    clock.set("2025-06-02")
    await rule_catalogs(seed)
    await endpoint(seed, "http://127.0.0.1:9/hooks")  # hears every event of Beijing (never delivered here)
    reviewer = await seed.staff("rev", StaffRole.reviewer)
    by_rule = await ready(client, seed, await person_for(seed, "BJ-TUMOR-CHEMO", "甲"), "BJ-TUMOR-CHEMO")
    by_person = await ready(client, seed, await person_for(seed, "BJ-TUMOR-CHEMO", "乙"), "BJ-TUMOR-CHEMO")

    assert await offer(seed.sessionmaker, settings.model_copy(update={"fasttrack_sample_rate": 1.0}), by_rule)
    async with seed.sessionmaker() as s, s.begin():
        app = await s.get(Application, by_person)
        assert app is not None
        await claim(s, app, staff=reviewer, idle_minutes=IDLE)
        await decide(s, app, staff=reviewer, payload=DecisionIn(outcome="approve", materials=await rule_marks(s, app)),
                     reasons=REASONS, idle_minutes=IDLE, sample_rate=1.0)

    rows = await approval_rows(seed, by_rule)
    assert rows == await approval_rows(seed, by_person)
    assert rows["application"] == ("approved", None, None, None)
    assert rows["materials"] == rows["decision"][4] == [("diagnosis_certificate", "acceptable"),
                                                         ("filing_form", "acceptable")]
    assert rows["history"][-2:] == [("submitted", "in_review", 1), ("in_review", "approved", 1)]
    assert [t for t, _ in rows["outbox"]] == ["application.submitted", "application.approved"]
    assert rows["filing"][0] == "active" and rows["filing"][-1] == ["granted"] and rows["samples"] == 1

    # What differs is who approved: the rule (as the system, with its history event) or the reviewer.
    async with seed.sessionmaker() as s:
        for app_id, actor, reviewer_id, has_rule in ((by_rule, "system", None, True),
                                                     (by_person, "staff", reviewer.id, False)):
            approved = (await s.execute(select(ApplicationEvent).where(
                ApplicationEvent.application_id == app_id, ApplicationEvent.to_status == "approved",
                ApplicationEvent.action == "status"))).scalar_one()
            decision = (await s.execute(select(ReviewDecision).where(
                ReviewDecision.application_id == app_id))).scalar_one()
            fast = (await s.execute(select(func.count()).select_from(ApplicationEvent).where(
                ApplicationEvent.application_id == app_id, ApplicationEvent.action == "fast_track"))).scalar_one()
            assert (approved.actor_kind, decision.reviewer_id, decision.rule is not None, fast) == (
                actor, reviewer_id, has_rule, int(has_rule))


async def test_an_approver_of_another_region_finds_no_application(
        client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any) -> None:
    clock.set("2025-06-02")
    await rule_catalogs(seed)
    app_id = await ready(client, seed, await person_for(seed, "BJ-TUMOR-CHEMO", "甲"), "BJ-TUMOR-CHEMO")
    elsewhere = await seed.staff("rev_hb", StaffRole.reviewer, SHENNONGJIA)
    async with seed.sessionmaker() as s:
        app = await s.get(Application, app_id)
        assert app is not None
        await set_status(s, app, Status.in_review, actor=Actor("system", None))
        for by in (Approver.reviewer(elsewhere, idle_minutes=IDLE),
                   Approver.by_rule("fast_track:test", region_code=SHENNONGJIA)):
            with pytest.raises(MTBError) as refused:
                await approve(s, app, by=by, verdicts=await rule_marks(s, app), sample_rate=0)
            assert refused.value.code == "application_not_found"
        await s.rollback()
