"""The reviewer's workbench pages through plain forms (no script): the queue's search, sort and counts,
开始审核 from a row, 决定并下一件, leaving (release), and the approval check with its confirmation."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mtb import timeutil
from mtb.applications import service as app_service
from mtb.applications.models import Application, ApplicationEvent
from mtb.identity.models import StaffRole
from mtb.review.jobs import release_lapsed_claims
from mtb.review.models import ReviewDecision
from tests.factories import Seed
from tests.review.helpers import submitted
from tests.web.helpers import as_staff, post_form


def location(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"]


def rows(page: httpx.Response) -> str:
    return page.text[page.text.index("<tbody>"):page.text.index("</tbody>")]


def app_in(url: str) -> str:
    match = re.search(r"/staff/applications/([0-9a-f-]{36})", url)
    assert match, url
    return match.group(1)


async def test_queue_page_search_sort_and_counts(client: httpx.AsyncClient, seed: Seed,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    for i, name in enumerate(("张三", "李四", "张小明")):
        monkeypatch.setattr(app_service, "local_today", lambda d=date(2025, 9, 1 + i): d)
        await submitted(client, seed, await seed.person(name=name))
    await as_staff(seed, await seed.staff("rev", StaffRole.reviewer))
    page = await client.get("/staff")
    assert re.search(r'id="count-decided">0<', page.text) and re.search(r'id="count-overdue">3<', page.text)
    assert rows(page).index("张三") < rows(page).index("李四") < rows(page).index("张小明")
    found = await client.get("/staff", params={"q": "张", "sort": "-due"})
    assert "李四" not in rows(found) and rows(found).index("张小明") < rows(found).index("张三")
    # The search and sort stay in the URL the page's forms and links carry.
    assert 'name="q" value="张"' in found.text and 'name="sort" value="-due"' in found.text
    assert 'value="-due" selected' in found.text
    bad = await client.get("/staff", params={"q": "12"})
    assert bad.status_code == 422 and "身份证号的后 4 位" in bad.text


async def test_start_decide_and_next_in_one_page_load_each(client: httpx.AsyncClient, seed: Seed,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    ids = []
    for i in range(3):
        monkeypatch.setattr(app_service, "local_today", lambda d=date(2025, 9, 1 + i): d)
        ids.append((await submitted(client, seed, await seed.person(name=f"人{i}")))[0])
    await as_staff(seed, await seed.staff("rev", StaffRole.reviewer))
    # 开始审核 on a row claims and opens it in one answer (a redirect to the page, with the queue's state).
    opened = location(await post_form(client, f"/staff/applications/{ids[1]}/claim", {"q": "人", "sort": "-due"}))
    assert app_in(opened) == ids[1] and "q=%E4%BA%BA" in opened and "sort=-due" in opened
    page = await client.get(opened)
    assert 'id="decision"' in page.text and 'name="then" value="next"' in page.text
    # 决定并下一件 (latest due first, as the queue was sorted): the next free one opens, claimed.
    after_return = location(await post_form(client, f"/staff/applications/{ids[1]}/decision", {
        "outcome": "return", "reason": "material_unclear", "then": "next", "q": "人", "sort": "-due"}))
    assert app_in(after_return) == ids[2]
    assert 'id="decision"' in (await client.get(after_return)).text
    material_ids = re.findall(r'name="verdict_([0-9a-f-]{36})" value="acceptable"', (await client.get(after_return)).text)
    assert len(material_ids) == 2
    approved = location(await post_form(client, f"/staff/applications/{ids[2]}/decision", {
        "outcome": "approve", "then": "next", **{f"verdict_{m}": "acceptable" for m in material_ids}}))
    assert app_in(approved) == ids[0]
    # Skipping releases the current one; with nothing else free, back to the queue with a word why.
    skipped = location(await post_form(client, "/staff/next", {"after": ids[0]}))
    assert skipped == "/staff?notice=empty"
    assert "队列中暂无其他可领取的申请" in (await client.get(skipped)).text
    queue = await client.get("/staff")
    assert re.search(r'id="count-decided">2<', queue.text) and re.search(r'id="count-held">0<', queue.text)
    # 释放: leave without deciding; releasing what one does not hold changes nothing.
    location(await post_form(client, f"/staff/applications/{ids[0]}/claim"))
    assert location(await post_form(client, f"/staff/applications/{ids[0]}/release")) == "/staff?notice=released"
    assert location(await post_form(client, f"/staff/applications/{ids[0]}/release")) == "/staff"
    assert re.search(r'id="count-held">0<', (await client.get("/staff")).text)


async def test_approval_without_marks_asks_for_a_confirmation_naming_them(client: httpx.AsyncClient,
                                                                          seed: Seed) -> None:
    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    await as_staff(seed, await seed.staff("rev", StaffRole.reviewer))
    location(await post_form(client, f"/staff/applications/{app_id}/claim"))
    refused = await post_form(client, f"/staff/applications/{app_id}/decision", {"outcome": "approve"})
    assert refused.status_code == 409
    assert "以下必需材料尚未标注为合格" in refused.text and "diagnosis_certificate.jpg" in refused.text
    assert 'name="confirm_unmarked" value="1"' in refused.text  # the confirmation, shown after the refusal
    confirmed = await post_form(client, f"/staff/applications/{app_id}/decision",
                                {"outcome": "approve", "confirm_unmarked": "1"})
    assert location(confirmed) == f"/staff/applications/{app_id}"
    page = await client.get(f"/staff/applications/{app_id}")
    assert "审核通过" in page.text and "确认未标注的材料也通过" in page.text


async def test_the_history_is_in_chinese_for_a_declared_submission(client: httpx.AsyncClient, seed: Seed) -> None:
    """Hubei's declaration, confirmed at submission, reads as words in 办理记录, not as its code."""
    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhao"), hubei=True)
    await as_staff(seed, await seed.staff("snj_rev", StaffRole.reviewer, region_code="429021"))
    page = await client.get(f"/staff/applications/{app_id}")
    assert page.status_code == 200, page.text[:300]
    history = page.text[page.text.index("办理记录"):]
    assert "确认提交声明" in history and "declaration_confirmed" not in history


async def test_a_reloaded_page_keeps_the_claim_its_predecessors_beacon_would_release(
        client: httpx.AsyncClient, seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload loads the page again before the page being left sends its beacon (release): the beacon
    names the claim its page showed, and the new load renewed it, so only the last page's beacon releases."""
    await seed.catalogs()
    app_id = (await submitted(client, seed, await seed.person(name="孙七")))[0]
    await as_staff(seed, await seed.staff("rev", StaffRole.reviewer))
    assert app_in(location(await post_form(client, f"/staff/applications/{app_id}/claim"))) == app_id
    pages, start = [], timeutil.utcnow()
    for second in (1, 2):  # the page, then the same page reloaded a second later
        monkeypatch.setattr(timeutil, "_frozen", start + timedelta(seconds=second))
        pages.append(await client.get(f"/staff/applications/{app_id}"))
    monkeypatch.setattr(timeutil, "_frozen", None)
    stamps = [re.search(r'data-claim="(\d+)"', p.text) for p in pages]
    assert stamps[0] and stamps[1] and stamps[0].group(1) != stamps[1].group(1)
    # The first page's beacon: nothing released, the reloaded page still holds the application.
    stale = await post_form(client, f"/staff/applications/{app_id}/release", {"claim": stamps[0].group(1)})
    assert location(stale) == "/staff"
    assert 'id="decision"' in (await client.get(f"/staff/applications/{app_id}")).text
    # Leaving the last page for good (its beacon names the claim it showed, renewed by the load above).
    last = re.search(r'data-claim="(\d+)"', (await client.get(f"/staff/applications/{app_id}")).text)
    assert last
    assert location(await post_form(client, f"/staff/applications/{app_id}/release",
                                    {"claim": last.group(1)})) == "/staff?notice=released"


@dataclass
class LapsedPage:
    app_id: str
    applicant: dict[str, str]
    reviewer: Any
    other: Any
    page: str
    stamp: str


async def a_page_whose_claim_lapsed(client: httpx.AsyncClient, seed: Seed, monkeypatch: pytest.MonkeyPatch,
                                    app: Any, name: str) -> LapsedPage:
    """A reviewer claims an application and opens its page; then the claim lapses (idle time 5 minutes, the
    clock 6 minutes on). Another reviewer exists."""
    monkeypatch.setattr(app.state.settings, "claim_idle_minutes", 5)
    await seed.catalogs()
    app_id, applicant = await submitted(client, seed, await seed.person(name=name))
    reviewer = await seed.staff("rev", StaffRole.reviewer)
    other = await seed.staff("rev2", StaffRole.reviewer)
    await as_staff(seed, reviewer)
    location(await post_form(client, f"/staff/applications/{app_id}/claim"))
    page = (await client.get(f"/staff/applications/{app_id}")).text
    stamp = re.search(r'name="claim" value="(\d+)"', page)
    assert stamp, "the decision form carries the claim its page showed"
    monkeypatch.setattr(timeutil, "_frozen", timeutil.utcnow() + timedelta(minutes=6))  # the claim lapsed
    return LapsedPage(app_id, applicant, reviewer, other, page, stamp.group(1))


@pytest.mark.parametrize("meanwhile", ["lapsed", "released by the job", "taken by another", "decided by another"])
async def test_a_claim_that_lapsed_while_the_page_was_open_is_taken_again_at_the_decision(
        client: httpx.AsyncClient, seed: Seed, monkeypatch: pytest.MonkeyPatch,
        app_and_client: tuple[Any, httpx.AsyncClient], meanwhile: str) -> None:
    """A reviewer who works on one page for longer than the claim's idle time, without a reload, still gets
    the decision made (the claim is taken again, in the history), unless another reviewer has the
    application now or decided it: then the answer says so, and their claim or decision stands."""
    lapsed = await a_page_whose_claim_lapsed(client, seed, monkeypatch, app_and_client[0], "周八")
    app_id, reviewer, other, page = lapsed.app_id, lapsed.reviewer, lapsed.other, lapsed.page
    assert 'name="round" value="1"' in page, "and the round it showed"
    if meanwhile == "released by the job":
        async with seed.sessionmaker() as s, s.begin():
            assert await release_lapsed_claims(s, timeutil.utcnow(), 5) == 1
    if meanwhile in ("taken by another", "decided by another"):
        await as_staff(seed, other)
        location(await post_form(client, f"/staff/applications/{app_id}/claim"))
        if meanwhile == "decided by another":
            location(await post_form(client, f"/staff/applications/{app_id}/decision",
                                     {"outcome": "return", "reason": "material_unclear"}))
        await as_staff(seed, reviewer)
    answer = await post_form(client, f"/staff/applications/{app_id}/decision",
                             {"outcome": "return", "reason": "material_unclear", "claim": lapsed.stamp,
                              "round": "1"})
    async with seed.sessionmaker() as s:
        row = await s.get(Application, uuid.UUID(app_id))
        assert row is not None
        events = [e.action for e in (await s.execute(select(ApplicationEvent).where(
            ApplicationEvent.application_id == row.id).order_by(ApplicationEvent.id))).scalars()]
        deciders = [d.reviewer_id for d in (await s.execute(select(ReviewDecision).where(
            ReviewDecision.application_id == row.id))).scalars()]
    if meanwhile in ("lapsed", "released by the job"):
        assert location(answer) == f"/staff/applications/{app_id}"
        assert row.status == "returned" and deciders == [reviewer.id]
        assert events.count("claim") == 2  # taken again, attributably, before the decision
    elif meanwhile == "taken by another":
        assert answer.status_code == 409 and "该申请正由 rev2 审核" in answer.text
        assert row.status == "in_review" and row.claimed_by_id == other.id
    else:
        assert answer.status_code == 409 and "无需审核" in answer.text
        assert row.status == "returned" and deciders == [other.id]
    # Without the page's claim (a reviewer who never held it), no decision without claiming first.
    if meanwhile == "taken by another":
        refused = await post_form(client, f"/staff/applications/{app_id}/decision",
                                  {"outcome": "return", "reason": "material_unclear"})
        assert refused.status_code == 409


@pytest.mark.parametrize("meanwhile", ["submitted again", "submitted again, claimed and released"])
async def test_a_page_of_an_earlier_round_does_not_take_the_application_again(
        client: httpx.AsyncClient, seed: Seed, monkeypatch: pytest.MonkeyPatch,
        app_and_client: tuple[Any, httpx.AsyncClient], meanwhile: str) -> None:
    """The lapsed claim is taken again only for the round the page showed: returned by another reviewer and
    submitted again since, the application is another round (other materials) and the old page decides
    nothing; the answer asks for a reload."""
    lapsed = await a_page_whose_claim_lapsed(client, seed, monkeypatch, app_and_client[0], "吴九")
    app_id, applicant, reviewer, other = lapsed.app_id, lapsed.applicant, lapsed.reviewer, lapsed.other
    await as_staff(seed, other)
    location(await post_form(client, f"/staff/applications/{app_id}/claim"))
    location(await post_form(client, f"/staff/applications/{app_id}/decision",
                             {"outcome": "return", "reason": "material_unclear"}))
    client.cookies.clear()
    again = await client.post(f"/api/v1/applications/{app_id}/submit", headers=applicant)
    assert again.status_code == 200 and again.json()["round"] == 2, again.text
    if meanwhile == "submitted again, claimed and released":
        await as_staff(seed, other)
        location(await post_form(client, f"/staff/applications/{app_id}/claim"))
        location(await post_form(client, f"/staff/applications/{app_id}/release"))
    await as_staff(seed, reviewer)
    answer = await post_form(client, f"/staff/applications/{app_id}/decision",
                             {"outcome": "reject", "reason": "material_unclear", "claim": lapsed.stamp,
                              "round": "1"})
    assert answer.status_code == 409 and "请刷新页面" in answer.text
    async with seed.sessionmaker() as s:
        row = await s.get(Application, uuid.UUID(app_id))
        assert row is not None and row.round == 2 and row.claimed_by_id is None
        assert row.status == ("submitted" if meanwhile == "submitted again" else "in_review")
        deciders = [d.reviewer_id for d in (await s.execute(select(ReviewDecision).where(
            ReviewDecision.application_id == row.id))).scalars()]
    assert deciders == [other.id]
