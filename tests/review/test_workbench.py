"""The reviewer's workbench through the API: the approval guard, the queue's search (name, last four of
the ID number, case number) and sort, the next
application (claimed), release when skipping, and the reviewer's own counts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from mtb.applications import service as app_service
from mtb.direct.reader import SqliteReader
from mtb.identity import idnumber
from mtb.identity.models import StaffRole
from mtb.review import service as review_service
from mtb.review import workbench
from mtb.review.queue import QueueFilter, QueueSearch, queue_params, queue_sql
from mtb.timeutil import utcnow
from tests.applications.helpers import upload
from tests.factories import SHENNONGJIA, Seed
from tests.files import document_photo
from tests.review.helpers import claim, decide, submitted

API = "/api/v1/review"


async def materials(client: httpx.AsyncClient, headers: dict[str, str], app_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/applications/{app_id}", headers=headers)
    return list(response.json()["materials"])


async def approve(client: httpx.AsyncClient, headers: dict[str, str], app_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/applications/{app_id}/decision", headers=headers,
                             json={"outcome": "approve", **body})


async def test_approval_needs_every_required_material_marked_acceptable(client: httpx.AsyncClient,
                                                                        seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    app_id, applicant = await submitted(client, seed, zhang)
    r = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    await claim(client, r, app_id)
    required = await materials(client, r, app_id)  # diagnosis_certificate, filing_form: both required
    # Nothing marked: refused, naming every unmarked required material.
    refused = await approve(client, r, app_id)
    assert refused.status_code == 409 and refused.json()["error"] == "materials_unmarked"
    assert sorted(refused.json()["materials"]) == sorted(m["id"] for m in required)
    assert all(m["file_name"] in refused.json()["detail"] for m in required)
    # One marked: only the other is named.
    one = await approve(client, r, app_id, materials=[{"material_id": required[0]["id"], "verdict": "acceptable"}])
    assert one.json()["error"] == "materials_unmarked" and one.json()["materials"] == [required[1]["id"]]
    # Marked unclear or invalid: never approved, even when confirming.
    for verdict in ("unclear", "invalid"):
        bad = await approve(client, r, app_id, confirm_unmarked=True,
                            materials=[{"material_id": required[1]["id"], "verdict": verdict}])
        assert bad.status_code == 409 and bad.json()["error"] == "materials_not_acceptable", bad.text
        assert bad.json()["materials"] == [required[1]["id"]]
    # A refusal writes nothing: the application is still under review, held by the same reviewer.
    app = (await client.get(f"/api/v1/applications/{app_id}", headers=r)).json()
    assert app["status"] == "in_review" and [m["verdict"] for m in app["materials"]] == [None, None]
    # 全部合格 approves the clean case in one step.
    done = await approve(client, r, app_id, all_acceptable=True)
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert [m["verdict"] for m in done.json()["materials"]] == ["acceptable", "acceptable"]
    assert applicant  # the applicant's own view is covered by the loop tests


async def test_confirmed_unmarked_approval_is_audited_and_optional_materials_do_not_count(
        client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    li = await seed.person("li")
    headers = await seed.login(li)
    app_id = (await client.post("/api/v1/applications", headers=headers, json={
        "region_code": "110000", "disease_code": "BJ-TUMOR-CHEMO", "hospital_code": "BJ-EX-0001",
        "channel": "bj_app"})).json()["id"]
    for kind in ("diagnosis_certificate", "filing_form", "supplementary"):
        assert (await upload(client, headers, app_id, kind, document_photo(seed=len(kind)))).status_code == 201
    assert (await client.post(f"/api/v1/applications/{app_id}/submit", headers=headers)).status_code == 200
    r = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    await claim(client, r, app_id)
    by_kind = {m["kind"]: m["id"] for m in await materials(client, r, app_id)}
    # The optional supplementary material, unmarked, does not hold the approval; a required one does.
    marked = [{"material_id": by_kind["diagnosis_certificate"], "verdict": "acceptable"}]
    refused = await approve(client, r, app_id, materials=marked)
    assert refused.json()["materials"] == [by_kind["filing_form"]]
    confirmed = await approve(client, r, app_id, materials=marked, confirm_unmarked=True)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "approved"
    history = (await client.get(f"{API}/applications/{app_id}/history", headers=r)).json()
    audit = [h for h in history if h["action"] == "approved_unmarked"]
    assert len(audit) == 1 and audit[0]["actor"] == "rev"
    assert audit[0]["detail"]["materials"] == [{"material_id": by_kind["filing_form"], "kind": "filing_form"}]


async def test_return_still_needs_a_reason(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    r = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    await claim(client, r, app_id)
    for body in ({"outcome": "return"}, {"outcome": "return", "all_acceptable": True}):
        refused = await client.post(f"{API}/applications/{app_id}/decision", headers=r, json=body)
        assert refused.status_code == 422 and refused.json()["error"] == "reason_required"


async def _queue(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = await client.get(f"{API}/queue", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [x["beneficiary_name"] for x in response.json()["items"]]


async def test_queue_search_by_name_last_four_of_the_id_number_and_case_number(client: httpx.AsyncClient, seed: Seed,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    people = [("张三", "11010519800101901"), ("张三丰", "11010519800101918"), ("李张", "11010519800101926"),
              ("王五", "11010519800101934"), ("张三", "11010519800101907")]
    numbers = {}
    for i, (name, first17) in enumerate(people):
        monkeypatch.setattr(app_service, "local_today", lambda d=date(2025, 9, 1 + i): d)
        person = await seed.person(name=name, first17=first17)
        numbers[first17] = idnumber.with_check_digit(first17)
        await submitted(client, seed, person)
    snj_person = await seed.person(name="张三", region_code=SHENNONGJIA, first17="42902119800101951")
    snj_app, snj_person_headers = await submitted(client, seed, snj_person, hubei=True)
    r = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    # A name's beginning, in queue order; the other region's 张三 is never found.
    assert await _queue(client, r, q="张") == ["张三", "张三丰", "张三"]
    assert await _queue(client, r, q="张三") == ["张三", "张三丰", "张三"]
    assert await _queue(client, r, q="张三丰") == ["张三丰"]
    assert await _queue(client, r, q="李") == ["李张"]
    assert await _queue(client, r, q="赵") == []
    # The last four characters of the ID number, alone or with a name; an X in either case.
    last4 = numbers["11010519800101907"][-4:]
    assert last4.endswith("X")
    assert await _queue(client, r, q=last4) == ["张三"]
    assert await _queue(client, r, q=f"张 {last4}") == ["张三"]
    assert await _queue(client, r, q=f"王五 {last4}") == []
    assert await _queue(client, r, q=last4.lower()) == ["张三"]
    # Sort and filters combine with the search; pages by cursor.
    assert await _queue(client, r, q="张", sort="-due") == ["张三", "张三丰", "张三"][::-1]
    page = (await client.get(f"{API}/queue", headers=r, params={"q": "张", "limit": 2})).json()
    rest = (await client.get(f"{API}/queue", headers=r, params={"q": "张", "limit": 2,
                                                               "cursor": page["next_cursor"]})).json()
    assert [x["beneficiary_name"] for x in page["items"] + rest["items"]] == ["张三", "张三丰", "张三"]
    assert await _queue(client, r, q="张", disease_code="BJ-HEMOPHILIA") == []
    # Digits that are not four are refused with a word on what to type.
    for bad in ("123", "12345", "110105198001019010", "20261206000123"):
        refused = await client.get(f"{API}/queue", headers=r, params={"q": bad})
        assert refused.status_code == 422 and refused.json()["error"] == "invalid_search"
    # A case number (受理编号), however it is read out: with or without its dash, spaces, lower case.
    first = (await client.get(f"{API}/queue", headers=r, params={"q": "王五"})).json()["items"][0]
    number = first["case_number"]
    assert number
    for typed in (number, number.replace("-", ""), number.lower(), " ".join(number)):
        assert await _queue(client, r, q=typed) == ["王五"], typed
    other = (await client.get(f"/api/v1/applications/{snj_app}", headers=snj_person_headers)).json()["case_number"]
    assert other and await _queue(client, r, q=other) == []  # another region's number finds nothing
    assert await _queue(client, r, q=number[:-1] + ("9" if number[-1] != "9" else "8")) == []
    # The whole queue, latest due first.
    assert await _queue(client, r, sort="-due") == ["张三", "王五", "李张", "张三丰", "张三"]


async def test_next_claims_the_first_free_application_in_queue_order(client: httpx.AsyncClient, seed: Seed,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    ids = []
    for i in range(4):
        monkeypatch.setattr(app_service, "local_today", lambda d=date(2025, 9, 1 + i): d)
        ids.append((await submitted(client, seed, await seed.person(name=f"人{i}")))[0])
    a = await seed.staff_login(await seed.staff("rev_a", StaffRole.reviewer))
    b = await seed.staff_login(await seed.staff("rev_b", StaffRole.reviewer))
    snj = await seed.staff_login(await seed.staff("snj", StaffRole.reviewer, SHENNONGJIA))
    await claim(client, b, ids[0])  # held by someone else: skipped
    first = await client.post(f"{API}/next", headers=a, json={})
    assert first.status_code == 200 and first.json()["id"] == ids[1] and first.json()["status"] == "in_review"
    queue = {x["id"]: x["claimed_by"] for x in (await client.get(f"{API}/queue", headers=a)).json()["items"]}
    assert queue[ids[1]] == "rev_a"
    # Decided: the next one; skipping (`after`) releases the current one and takes the one after it.
    await decide(client, a, ids[1], "return", [{"code": "material_unclear"}])
    second = (await client.post(f"{API}/next", headers=a, json={})).json()
    assert second["id"] == ids[2]
    skipped = (await client.post(f"{API}/next", headers=a, json={"after": ids[2]})).json()
    assert skipped["id"] == ids[3]
    queue = {x["id"]: x["claimed_by"] for x in (await client.get(f"{API}/queue", headers=a)).json()["items"]}
    assert queue[ids[2]] is None and queue[ids[3]] == "rev_a"
    history = (await client.get(f"{API}/applications/{ids[2]}/history", headers=a)).json()
    assert [h["action"] for h in history if h["action"] in ("claim", "release")] == ["claim", "release"]
    # Filters and sort apply; nothing free in another region; an empty queue is a clear 404.
    assert (await client.post(f"{API}/next", headers=snj, json={})).json()["error"] == "queue_empty"
    later = (await client.post(f"{API}/next", headers=b, json={"sort": "-due", "after": ids[0]})).json()
    assert later["id"] == ids[2]  # rev_b still holds ids[0]: released, then the latest free is ids[2]
    assert (await client.post(f"{API}/next", headers=a, json={"q": "人0"})).json()["id"] == ids[0]
    assert (await client.post(f"{API}/next", headers=a, json={"q": "无此人"})).json()["error"] == "queue_empty"
    assert (await client.post(f"{API}/next", headers=a, json={"bogus": 1})).status_code == 422


async def test_next_takes_over_lapsed_claims_and_racing_reviewers_get_different_applications(
        client: httpx.AsyncClient, seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    ids = []
    for i in range(3):
        monkeypatch.setattr(app_service, "local_today", lambda d=date(2025, 9, 1 + i): d)
        ids.append((await submitted(client, seed, await seed.person(name=f"人{i}")))[0])
    staff = [await seed.staff_login(await seed.staff(f"rev{i}", StaffRole.reviewer)) for i in range(3)]
    answers = await asyncio.gather(*(client.post(f"{API}/next", headers=h, json={}) for h in staff))
    assert sorted(a.json()["id"] for a in answers) == sorted(ids), [a.text for a in answers]
    # Everything else is held: skipping one's own releases it and finds nothing else to take.
    skip = await client.post(f"{API}/next", headers=staff[0], json={"after": answers[0].json()["id"]})
    assert skip.status_code == 404 and skip.json()["error"] == "queue_empty"
    # A claim idle past MTB_CLAIM_IDLE_MINUTES lapses and is taken by the next reviewer who asks.
    later = utcnow() + timedelta(minutes=31)
    monkeypatch.setattr(review_service, "utcnow", lambda: later)
    monkeypatch.setattr(workbench, "utcnow", lambda: later)
    newcomer = await seed.staff_login(await seed.staff("rev_new", StaffRole.reviewer))
    taken = await client.post(f"{API}/next", headers=newcomer, json={})
    assert taken.status_code == 200 and taken.json()["id"] in ids


async def test_counts_are_the_reviewers_own(client: httpx.AsyncClient, seed: Seed,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    monkeypatch.setattr(app_service, "local_today", lambda: date(2020, 1, 6))  # long overdue
    old = (await submitted(client, seed, await seed.person(name="旧")))[0]
    monkeypatch.undo()
    fresh = [(await submitted(client, seed, await seed.person(name=f"新{i}")))[0] for i in range(3)]
    a = await seed.staff_login(await seed.staff("rev_a", StaffRole.reviewer))
    b = await seed.staff_login(await seed.staff("rev_b", StaffRole.reviewer))
    snj = await seed.staff_login(await seed.staff("snj", StaffRole.reviewer, SHENNONGJIA))

    async def counts(h: dict[str, str]) -> dict[str, int]:
        response = await client.get(f"{API}/counts", headers=h)
        assert response.status_code == 200, response.text
        return dict(response.json())

    assert await counts(a) == {"decided_today": 0, "held_now": 0, "overdue_in_region": 1}
    await claim(client, a, fresh[0])
    await claim(client, a, fresh[1])
    await claim(client, b, fresh[2])
    await decide(client, a, fresh[0], "approve", all_acceptable=True)
    assert await counts(a) == {"decided_today": 1, "held_now": 1, "overdue_in_region": 1}
    assert await counts(b) == {"decided_today": 0, "held_now": 1, "overdue_in_region": 1}
    assert await counts(snj) == {"decided_today": 0, "held_now": 0, "overdue_in_region": 0}
    await claim(client, b, old)
    await decide(client, b, old, "return", [{"code": "material_unclear"}])
    assert (await counts(b))["overdue_in_region"] == 0 and (await counts(b))["decided_today"] == 1
    clerk = await seed.staff_login(await seed.staff("win", StaffRole.window))
    assert (await client.get(f"{API}/counts", headers=clerk)).status_code == 403


@pytest.mark.parametrize("search", [QueueSearch(name="张"), QueueSearch(last4="9010"),
                                    QueueSearch(name="张三", last4="9010"),
                                    QueueSearch(case_number="BJ20250601-000001")])
@pytest.mark.parametrize("with_cursor", [False, True])
def test_queue_search_starts_from_an_index_of_people(sync_engine: Engine, search: QueueSearch,
                                                     with_cursor: bool) -> None:
    """A search reads the matching people off ix_insured_persons_name / _last4 and their applications by
    beneficiary, never walking the region's queue (at 1 M applications that would read them all when the
    name matches nobody)."""
    if sync_engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite; PostgreSQL chooses by its statistics (bench/explain.py)")
    from mtb.review.queue import QueueRow, encode_cursor

    reader = SqliteReader(":memory:")
    filters = QueueFilter(search=search)
    cursor = encode_cursor(QueueRow(uuid.uuid4(), "", "", "", "", 1, datetime(2025, 6, 1, tzinfo=UTC), date(2025, 6, 3),
                                    None, None, None, 1, "", "", "", None, None)) if with_cursor else None
    compiled = queue_sql(statuses=["submitted", "in_review"], filters=filters, with_cursor=with_cursor).compiled("sqlite")
    params = queue_params(reader, region_code="110000", filters=filters, cursor=cursor, today=date(2025, 6, 1),
                          limit=20)
    with sync_engine.connect() as conn:
        plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.sql,
                                                                  compiled.args(params)))
    if search.case_number:
        assert "SEARCH applications USING INDEX uq_applications_case_number" in plan, plan
    else:
        index = "ix_insured_persons_name" if search.name and not search.last4 else "ix_insured_persons_"
        assert f"SEARCH p USING INDEX {index}" in plan, plan
        assert "SEARCH applications USING INDEX ix_applications_beneficiary_id" in plan, plan
    assert "SCAN applications" not in plan and "SCAN p" not in plan, plan


def test_counts_read_ranges_of_indexes(sync_engine: Engine) -> None:
    if sync_engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite; PostgreSQL chooses by its statistics (bench/explain.py)")
    expected = ("ix_review_decisions_reviewer_day", "ix_applications_claimed_by", "ix_applications_region_status_due")
    params: list[dict[str, Any]] = [{"staff": uuid.uuid4().hex, "since": "2025-06-01 00:00:00.000000"},
                                    {"staff": uuid.uuid4().hex, "since": "2025-06-01 00:00:00.000000"},
                                    {"region": "110000", "today": "2025-06-01"}]
    with sync_engine.connect() as conn:
        for statement, index, p in zip(workbench.COUNTS_SQL, expected, params, strict=True):
            compiled = statement.compiled("sqlite")
            plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.sql,
                                                                      compiled.args(p)))
            assert index in plan and "SCAN" not in plan.replace("COVERING INDEX", ""), plan
