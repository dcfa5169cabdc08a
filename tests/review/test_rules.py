"""Who may review, claims, races, four eyes, sampling, the queue's order and paging, and the audit trail."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from mtb.applications import service as app_service
from mtb.catalog.loader import parse_catalog
from mtb.direct.reader import SqliteReader
from mtb.identity.models import StaffRole
from mtb.review import queue as queue_module
from mtb.review import service as review_service
from mtb.review.models import ReviewDecision
from mtb.review.queue import QueueFilter, QueueRow, encode_cursor, queue_params, queue_sql
from mtb.timeutil import utcnow
from mtb.web.staff import window_entries
from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, submit, upload_all
from tests.apps import app_with
from tests.factories import CATALOG_DIR, SHENNONGJIA, Seed
from tests.review.helpers import claim, decide, submitted


async def test_other_region_reviewer_sees_nothing(client: httpx.AsyncClient, seed: Seed) -> None:
    """Staff see only their region: everything of another region is a 404."""
    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    snj = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    assert (await client.get("/api/v1/review/queue", headers=snj)).json()["items"] == []
    for method, path in (("GET", f"/api/v1/applications/{app_id}"),
                         ("POST", f"/api/v1/review/applications/{app_id}/claim"),
                         ("POST", f"/api/v1/review/applications/{app_id}/release"),
                         ("GET", f"/api/v1/review/applications/{app_id}/history"),
                         ("GET", f"/api/v1/applications/{app_id}/form.pdf")):
        response = await client.request(method, path, headers=snj)
        assert response.status_code == 404, (path, response.text)
    decision = await decide(client, snj, app_id, "approve")
    assert decision.status_code == 404


async def test_window_clerk_and_applicant_cannot_review(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    app_id, zh = await submitted(client, seed, zhang)
    clerk = await seed.staff_login(await seed.staff("bj_window", StaffRole.window))
    for headers in (clerk, zh):
        assert (await claim(client, headers, app_id)).status_code == 403
        assert (await decide(client, headers, app_id, "approve")).status_code == 403
        assert (await client.get("/api/v1/review/queue", headers=headers)).status_code == 403
    assert (await client.get("/api/v1/review/queue")).status_code == 401


async def test_one_holder_at_a_time_and_lapsed_claims(client: httpx.AsyncClient, seed: Seed,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    a = await seed.staff_login(await seed.staff("rev_a", StaffRole.reviewer))
    b = await seed.staff_login(await seed.staff("rev_b", StaffRole.reviewer))
    assert (await decide(client, a, app_id, "approve")).json()["error"] == "not_in_review"
    assert (await claim(client, a, app_id)).status_code == 200
    taken = await claim(client, b, app_id)
    assert taken.status_code == 409 and taken.json() == {
        "error": "claimed_by_other", "detail": "该申请正由 rev_a 审核", "holder": "rev_a"}
    assert (await decide(client, b, app_id, "approve")).json()["error"] == "not_claim_holder"
    # After the idle time the claim lapses: B takes over and A can no longer decide.
    later = utcnow() + timedelta(minutes=31)
    monkeypatch.setattr(review_service, "utcnow", lambda: later)
    assert (await claim(client, b, app_id)).status_code == 200
    assert (await decide(client, a, app_id, "approve")).json()["error"] == "not_claim_holder"
    assert (await decide(client, b, app_id, "approve")).status_code == 200


async def test_decision_input_is_checked(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    other_app, _ = await submitted(client, seed, await seed.person("li"))
    r = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    await claim(client, r, app_id)
    foreign = (await client.get(f"/api/v1/applications/{other_app}", headers=r)).json()["materials"][0]["id"]
    cases = [
        ({"outcome": "return", "reasons": []}, "reason_required"),
        ({"outcome": "return", "reasons": [{"code": "bad_photo"}]}, "reason_code_unknown"),
        ({"outcome": "return", "reasons": [{"code": "other"}]}, "reason_detail_required"),
        ({"outcome": "return", "reasons": [{"code": "other", "detail": "x"}],
          "materials": [{"material_id": foreign, "verdict": "invalid"}]}, "material_not_in_application"),
        ({"outcome": "maybe"}, "invalid_request"),
    ]
    for body, code in cases:
        response = await client.post(f"/api/v1/review/applications/{app_id}/decision", headers=r, json=body)
        assert response.status_code == 422 and response.json()["error"] == code, response.text
    codes = (await client.get("/api/v1/review/reason-codes", headers=r)).json()
    assert [c["code"] for c in codes] == ["materials_incomplete", "material_unclear", "certificate_not_qualified",
                                          "physician_title_insufficient", "disease_not_in_catalog",
                                          "information_inconsistent", "physician_signature_missing", "other"]


async def test_racing_decisions_record_exactly_one(client: httpx.AsyncClient, seed: Seed,
                                                   sync_engine: Engine) -> None:
    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    r = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    await claim(client, r, app_id)
    responses = await asyncio.gather(
        decide(client, r, app_id, "approve"),
        decide(client, r, app_id, "return", [{"code": "material_unclear"}]),
        decide(client, r, app_id, "reject", [{"code": "other", "detail": "x"}]))
    codes = sorted(x.status_code for x in responses)
    assert codes == [200, 409, 409], [x.text for x in responses]
    # Each loser is told the application changed under it (or is no longer in review), never a second decision.
    assert {x.json()["error"] for x in responses if x.status_code == 409} <= {"concurrent_change", "not_in_review"}
    with sync_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ReviewDecision)).scalar_one() == 1


def two_stage_catalog() -> list:  # type: ignore[type-arg]
    data = yaml.safe_load((CATALOG_DIR / "110000-2025.1.yaml").read_text("utf-8"))
    for disease in data["diseases"]:
        if disease["code"] == "BJ-TUMOR-CHEMO":
            disease["two_stage_review"] = True
    return [parse_catalog(yaml.safe_dump(data, allow_unicode=True).encode(), file="bj-two-stage.yaml")]


async def test_two_stage_review_needs_a_second_reviewer(client: httpx.AsyncClient, seed: Seed) -> None:
    """Four eyes: where the catalog marks a disease so, a second reviewer, not the first, confirms."""
    await seed.catalogs(two_stage_catalog())
    zhang = await seed.person("zhang")
    app_id, zh = await submitted(client, seed, zhang)
    a = await seed.staff_login(await seed.staff("rev_a", StaffRole.reviewer))
    b = await seed.staff_login(await seed.staff("rev_b", StaffRole.reviewer))
    await claim(client, a, app_id)
    first = await decide(client, a, app_id, "approve", note="材料齐全")
    assert first.status_code == 200
    assert first.json()["status"] == "in_review" and first.json()["awaiting_confirmation"] is True
    assert (await client.get("/api/v1/qualifications", headers=zh)).json() == []
    assert (await claim(client, a, app_id)).json()["error"] == "four_eyes_required"
    item = (await client.get("/api/v1/review/queue", headers=b)).json()["items"][0]
    assert item["awaiting_confirmation"] is True and item["claimed_by"] is None
    assert (await claim(client, b, app_id)).status_code == 200
    confirmed = await decide(client, b, app_id, "approve")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "approved"
    assert len((await client.get("/api/v1/qualifications", headers=zh)).json()) == 1
    history = (await client.get(f"/api/v1/review/applications/{app_id}/history", headers=b)).json()
    assert [(h["action"], h["actor"]) for h in history if h["action"] in ("first_approval", "status")][-2:] == [
        ("first_approval", "rev_a"), ("status", "rev_b")]


async def test_quality_sampling_draws_approvals_for_a_senior_check(seed: Seed,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_with(monkeypatch, MTB_QUALITY_SAMPLE_RATE="1") as s:
        client = s.client
        await s.catalogs()
        app_id, _ = await submitted(client, s, await s.person("zhang"))
        r = await s.staff_login(await s.staff("rev", StaffRole.reviewer))
        admin = await s.staff_login(await s.staff("bj_admin", StaffRole.admin))
        await claim(client, r, app_id)
        approved = await decide(client, r, app_id, "approve")
        assert approved.json()["status"] == "approved"  # the sample does not delay the effect
        (sample,) = (await client.get("/api/v1/review/samples", headers=admin)).json()
        assert sample["application_id"] == app_id and sample["result"] is None
        assert (await client.get("/api/v1/review/samples", headers=r)).status_code == 403
        checked = await client.post(f"/api/v1/review/samples/{sample['id']}/check", headers=admin,
                                    json={"result": "confirmed", "note": "抽查无误"})
        assert checked.status_code == 200 and checked.json()["checked_by"] == "bj_admin"
        again = await client.post(f"/api/v1/review/samples/{sample['id']}/check", headers=admin,
                                  json={"result": "issue_found"})
        assert again.status_code == 409
        assert (await client.get("/api/v1/review/samples", headers=admin)).json() == []


async def test_queue_order_filters_and_stable_pages(client: httpx.AsyncClient, seed: Seed,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A reviewer expects a queue sorted by due date; each item shows working days left and an overdue flag."""
    await seed.catalogs()
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    days = [date(2025, 9, 1), date(2025, 8, 1), date(2025, 9, 1), date(2025, 7, 1), date(2025, 9, 15)]
    ids = []
    for i, day in enumerate(days):
        monkeypatch.setattr(app_service, "local_today", lambda d=day: d)
        person = await seed.person(name=f"人{i}")
        disease = "BJ-HEMOPHILIA" if i == 2 else "BJ-TUMOR-CHEMO"
        app_id, _ = await submitted(client, seed, person, disease_code=disease,
                                    channel="jingtong" if i == 4 else "bj_app")
        ids.append(app_id)
    monkeypatch.setattr(queue_module, "local_today", lambda: date(2025, 9, 3))
    items = (await client.get("/api/v1/review/queue", headers=reviewer)).json()["items"]
    assert [x["id"] for x in items] == [ids[3], ids[1], ids[0], ids[2], ids[4]]
    assert [x["overdue"] for x in items] == [True, True, False, False, False]
    assert items[2]["due_date"] == "2025-09-04" and items[2]["working_days_left"] == 1
    assert items[0]["working_days_left"] < 0
    pages, cursor = [], None
    while True:
        page = (await client.get("/api/v1/review/queue", headers=reviewer,
                                 params={"limit": 2} | ({"cursor": cursor} if cursor else {}))).json()
        pages.append([x["id"] for x in page["items"]])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
        if len(pages) == 1:  # deciding an item meanwhile neither repeats nor skips the others
            await claim(client, reviewer, ids[3])
            await decide(client, reviewer, ids[3], "approve")
    assert pages == [[ids[3], ids[1]], [ids[0], ids[2]], [ids[4]]]
    overdue = (await client.get("/api/v1/review/queue?overdue=true", headers=reviewer)).json()["items"]
    assert [x["id"] for x in overdue] == [ids[1]]
    by_disease = (await client.get("/api/v1/review/queue?disease_code=BJ-HEMOPHILIA", headers=reviewer)).json()
    assert [x["id"] for x in by_disease["items"]] == [ids[2]]
    by_channel = (await client.get("/api/v1/review/queue?channel=jingtong", headers=reviewer)).json()
    assert [x["id"] for x in by_channel["items"]] == [ids[4]]
    await claim(client, reviewer, ids[0])
    in_review = (await client.get("/api/v1/review/queue?status=in_review", headers=reviewer)).json()["items"]
    assert [(x["id"], x["claimed_by"]) for x in in_review] == [(ids[0], "rev")]
    bad = await client.get("/api/v1/review/queue?cursor=nonsense", headers=reviewer)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_cursor"
    approved = await client.get("/api/v1/review/queue?status=approved", headers=reviewer)
    assert approved.json()["error"] == "invalid_status_filter"


async def test_audit_trail_names_every_actor(client: httpx.AsyncClient, seed: Seed) -> None:
    """Every claim, decision, material view by staff, and window entry is in the history with the actor."""
    await seed.catalogs()
    zhang = await seed.person("zhang")
    clerk_row = await seed.staff("bj_window", StaffRole.window)
    clerk = await seed.staff_login(clerk_row)
    app_id = (await create(client, clerk, **BEIJING_SELF | {"channel": "window"},
                           beneficiary=zhang.credentials() | {"relation": "other"})).json()["id"]
    await upload_all(client, clerk, app_id, BEIJING_MATERIALS)
    await submit(client, clerk, app_id)
    r = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    await claim(client, r, app_id)
    material = (await client.get(f"/api/v1/applications/{app_id}", headers=r)).json()["materials"][0]
    await client.get(material["download_url"], headers=r)
    await decide(client, r, app_id, "return", [{"code": "material_unclear"}])
    history = (await client.get(f"/api/v1/review/applications/{app_id}/history", headers=r)).json()
    assert [(h["action"], h["to_status"], h["actor"]) for h in history] == [
        ("status", "draft", "bj_window"), ("status", "submitted", "bj_window"), ("status", "in_review", "rev"),
        ("claim", "in_review", "rev"), ("application_viewed", "in_review", "rev"),
        ("material_viewed", "in_review", "rev"), ("status", "returned", "rev")]
    assert history[5]["detail"]["material_id"] == material["id"]
    zh = await seed.login(zhang)
    assert (await client.get(f"/api/v1/review/applications/{app_id}/history", headers=zh)).status_code == 403
    # The applicant's own timeline holds the status changes only.
    timeline = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["timeline"]
    assert [t["to_status"] for t in timeline] == ["draft", "submitted", "in_review", "returned"]


@pytest.mark.parametrize("filters", [QueueFilter(), QueueFilter(disease_code="BJ-TUMOR-CHEMO", overdue=True)])
@pytest.mark.parametrize("with_cursor", [False, True])
def test_queue_order_comes_from_an_index(sync_engine: Engine, filters: QueueFilter, with_cursor: bool) -> None:
    """A queue page is read off ix_applications_review_queue, never by sorting the whole region: the plan
    of the statement exactly as the queue sends it (its text, its bound parameters)."""
    if sync_engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite; PostgreSQL chooses by its statistics (bench/explain.py)")
    reader = SqliteReader(":memory:")
    cursor = encode_cursor(QueueRow(uuid.uuid4(), "BJ-TUMOR-CHEMO", "BJ-EX-0001", "bj_app", "submitted", 1,
                                    datetime(2025, 6, 1, 8, 0, tzinfo=UTC), date(2025, 6, 3), None, None, None, 1,
                                    "0" * 64, "张三", "110105********9010", None, None)) if with_cursor else None
    compiled = queue_sql(statuses=["submitted", "in_review"], filters=filters, with_cursor=with_cursor).compiled("sqlite")
    params = queue_params(reader, region_code="110000", filters=filters, cursor=cursor, today=date(2025, 6, 1),
                          limit=20)
    with sync_engine.connect() as conn:
        plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.sql,
                                                                  compiled.args(params)))
    assert "ix_applications_review_queue" in plan and "TEMP B-TREE" not in plan, plan


def test_window_page_reads_its_clerks_entries_off_an_index(sync_engine: Engine) -> None:
    """The window page's list of the clerk's latest entries: ix_applications_window_entries in order, not a
    scan of every application and a sort (0.8 s at 1 M on SQLite, on the event loop's thread)."""
    if sync_engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite; PostgreSQL chooses by its statistics (bench/explain.py)")
    compiled = window_entries(uuid.uuid4()).compile(sync_engine)
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    with sync_engine.connect() as conn:
        plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                                                  tuple(str(p) for p in params)))
    assert "ix_applications_window_entries" in plan and "TEMP B-TREE" not in plan, plan
