"""The case number (受理编号): given at the first submission, unique, kept on resubmission, and shown in
the API answers, the form, the messages and the review queue (applications/case_number.py)."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import date

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from mtb.applications import service
from mtb.applications.case_number import PATTERN, format_case_number, normalize, prefix_for
from mtb.identity.models import StaffRole
from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, submit, upload_all
from tests.factories import SHENNONGJIA, Seed
from tests.review.helpers import claim, decide, submitted


@pytest.fixture
def on_day(monkeypatch: pytest.MonkeyPatch) -> date:
    day = date(2026, 12, 7)
    monkeypatch.setattr(service, "local_today", lambda: day)
    return day


@given(code=st.from_regex(r"^[1-8][0-9]{5}$", fullmatch=True), day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
       n=st.integers(1, 999_999))
def test_every_number_reads_as_letters_date_sequence(code: str, day: date, n: int) -> None:
    number = format_case_number(prefix_for(code), day, n)
    assert PATTERN.match(number)
    assert number[2:10] == day.strftime("%Y%m%d") and int(number[11:]) == n
    assert normalize(" " + number.lower()[:6] + " " + number[6:] + "\t") == number


def test_prefixes_of_the_reference_regions() -> None:
    assert prefix_for("110000") == "BJ" and prefix_for("110105") == "BJ"
    assert prefix_for(SHENNONGJIA) == "HB" and prefix_for("420102") == "HB"


async def test_draft_has_none_submission_gives_one_resubmission_keeps_it(
        client: httpx.AsyncClient, seed: Seed, on_day: date) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    zh = await seed.login(zhang)
    draft = await create(client, zh, **BEIJING_SELF)
    assert draft.json()["case_number"] is None
    app_id = draft.json()["id"]
    await upload_all(client, zh, app_id, BEIJING_MATERIALS)
    answer = (await submit(client, zh, app_id)).json()
    number = answer["case_number"]
    assert number == "BJ20261207-000001"
    # Every read says it: the full read, the status read, the list.
    assert (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["case_number"] == number
    assert (await client.get(f"/api/v1/applications/{app_id}/status", headers=zh)).json()["case_number"] == number
    assert [a["case_number"] for a in (await client.get("/api/v1/applications", headers=zh)).json()] == [number]
    # Returned and resubmitted: the same number (it names the case, not the round).
    reviewer = await seed.staff_login(await seed.staff("bj_rev", StaffRole.reviewer))
    assert (await claim(client, reviewer, app_id)).status_code == 200
    returned = await decide(client, reviewer, app_id, "return",
                            [{"code": "material_unclear", "detail": "请重新拍摄"}])
    assert returned.status_code == 200, returned.text
    again = await submit(client, zh, app_id)
    assert again.status_code == 200, again.text
    assert again.json()["case_number"] == number and again.json()["round"] == 2


async def test_numbers_count_per_province_and_day_and_are_unique(
        client: httpx.AsyncClient, seed: Seed, on_day: date, monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    numbers = []
    for actor in ("zhang", "li"):
        app_id, headers = await submitted(client, seed, await seed.person(actor))
        numbers.append((await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()["case_number"])
    app_id, headers = await submitted(client, seed, await seed.person("zhao"), hubei=True)
    numbers.append((await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()["case_number"])
    monkeypatch.setattr(service, "local_today", lambda: date(2026, 12, 8))
    app_id, headers = await submitted(client, seed, await seed.person("wang"))
    numbers.append((await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()["case_number"])
    assert numbers == ["BJ20261207-000001", "BJ20261207-000002", "HB20261207-000001", "BJ20261208-000001"]


async def test_concurrent_submissions_get_distinct_numbers(client: httpx.AsyncClient, seed: Seed,
                                                           on_day: date) -> None:
    """Submissions racing on the same day's counter each get their own number, with no gap."""
    await seed.catalogs()
    ready = []
    for i in range(4):
        person = await seed.person(name=f"并发{i}")
        headers = await seed.login(person)
        app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
        await upload_all(client, headers, app_id, BEIJING_MATERIALS)
        ready.append((app_id, headers))
    answers = await asyncio.gather(*(submit(client, h, a) for a, h in ready))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert sorted(r.json()["case_number"] for r in answers) == [f"BJ20261207-{n:06d}" for n in range(1, 5)]


async def test_a_refused_submission_uses_no_number(client: httpx.AsyncClient, seed: Seed, on_day: date) -> None:
    await seed.catalogs()
    zh = await seed.login(await seed.person("zhang"))
    app_id = (await create(client, zh, **BEIJING_SELF)).json()["id"]
    assert (await submit(client, zh, app_id)).status_code == 422  # materials missing: rolled back
    await upload_all(client, zh, app_id, BEIJING_MATERIALS)
    assert (await submit(client, zh, app_id)).json()["case_number"] == "BJ20261207-000001"


async def test_form_messages_and_queue_carry_it(client: httpx.AsyncClient, seed: Seed, on_day: date) -> None:
    await seed.catalogs()
    zhao = await seed.person("zhao")
    app_id, headers = await submitted(client, seed, zhao, hubei=True)
    number = "HB20261207-000001"
    form = await client.get(f"/api/v1/applications/{app_id}/form.pdf", headers=headers)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(form.content)).pages)
    assert number in re.sub(r"\s+", "", text)
    messages = (await client.get("/api/v1/notifications", headers=headers)).json()
    assert any(number in m["body"] for m in messages if m["kind"] == "application_submitted")
    reviewer = await seed.staff_login(await seed.staff("snj_rev", StaffRole.reviewer, SHENNONGJIA))
    items = (await client.get("/api/v1/review/queue", headers=reviewer)).json()["items"]
    assert [i["case_number"] for i in items] == [number]
