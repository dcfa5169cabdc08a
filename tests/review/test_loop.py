"""The full review loop: submit, claim, return with reasons, correct, resubmit, approve, qualification.

domain.md Review and result: the reviewer "checks that the material is complete, intact and valid";
"Approved: the filing takes effect immediately"; "Not approved: the system shows the reason; the applicant
supplements or corrects the material and submits again".
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from mtb.applications import service as app_service
from mtb.identity.models import StaffRole
from mtb.qualifications.service import add_years, valid_until
from tests.applications.helpers import HUBEI, create, submit
from tests.factories import SHENNONGJIA, Seed
from tests.files import document_photo
from tests.review.helpers import claim, decide, submitted


async def test_full_loop_through_the_api(client: httpx.AsyncClient, seed: Seed,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    await seed.catalogs()
    zhao = await seed.person("zhao")
    reviewer = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    monkeypatch.setattr(app_service, "local_today", lambda: date(2025, 9, 30))
    app_id, zh = await submitted(client, seed, zhao, hubei=True)

    queue = (await client.get("/api/v1/review/queue", headers=reviewer)).json()
    (item,) = queue["items"]
    assert item["id"] == app_id and item["beneficiary_id_number_masked"] == "**************9041"
    assert item["due_date"] == "2025-10-11" and item["overdue"] is True  # that day is long past
    assert "9041" in item["beneficiary_id_number_masked"] and zhao.id_number not in str(queue)

    claimed = await claim(client, reviewer, app_id)
    assert claimed.status_code == 200 and claimed.json()["status"] == "in_review"
    detail = (await client.get(f"/api/v1/applications/{app_id}", headers=reviewer)).json()
    certificate = next(m for m in detail["materials"] if m["kind"] == "diagnosis_certificate")
    assert (await client.get(certificate["download_url"], headers=reviewer)).status_code == 200

    returned = await decide(client, reviewer, app_id, "return",
                            [{"code": "material_unclear", "detail": "诊断证明公章看不清"},
                             {"code": "information_inconsistent"}],
                            materials=[{"material_id": certificate["id"], "verdict": "unclear",
                                        "comment": "公章模糊"}],
                            note="请重新拍摄诊断证明")
    assert returned.status_code == 200, returned.text
    seen = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()
    assert seen["status"] == "returned"
    assert [r["name"] for r in seen["decision"]["reasons"]] == ["材料不清晰", "填报信息与材料不一致"]
    assert seen["decision"]["reasons"][0]["detail"] == "诊断证明公章看不清"
    marked = next(m for m in seen["materials"] if m["id"] == certificate["id"])
    assert (marked["verdict"], marked["verdict_comment"]) == ("unclear", "公章模糊")
    messages = (await client.get("/api/v1/notifications", headers=zh)).json()
    assert messages[0]["kind"] == "application_returned" and "材料不清晰" in messages[0]["body"]

    replaced = await client.put(f"/api/v1/applications/{app_id}/materials/{certificate['id']}", headers=zh,
                                files={"file": ("c.jpg", document_photo(seed=42), "image/jpeg")})
    assert replaced.status_code == 200 and replaced.json()["verdict"] is None
    monkeypatch.setattr(app_service, "local_today", lambda: date(2025, 10, 13))
    again = await submit(client, zh, app_id)
    assert again.status_code == 200
    assert again.json()["round"] == 2 and again.json()["due_date"] == "2025-10-16"

    assert (await claim(client, reviewer, app_id)).status_code == 200
    approved = await decide(client, reviewer, app_id, "approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    timeline = [(t["to_status"], t["round"]) for t in approved.json()["timeline"]]
    assert timeline == [("draft", 0), ("submitted", 1), ("in_review", 1), ("returned", 1), ("submitted", 2),
                        ("in_review", 2), ("approved", 2)]
    assert [d["outcome"] for d in approved.json()["decisions"]] == ["return", "approve"]

    (qualification,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
    assert qualification["status"] == "active" and qualification["disease_name"] == "慢性肾功能衰竭透析"
    assert qualification["insurance_type"] == "resident" and qualification["application_id"] == app_id
    assert qualification["review_period_years"] == 5 and qualification["review_period_is_example"] is True
    effective = date.fromisoformat(qualification["effective_from"])
    # Five years (the catalog's example period): valid through the day before the fifth anniversary.
    assert qualification["valid_until"] == (add_years(effective, 5) - timedelta(days=1)).isoformat()
    assert [b["insurance_type"] for b in qualification["benefits"]] == ["resident"]
    assert (await client.get("/api/v1/review/queue", headers=reviewer)).json()["items"] == []

    # A second application for the same disease meets the active qualification.
    second = await create(client, zh, **HUBEI)
    assert second.status_code == 409 and second.json()["error"] == "qualification_exists"


async def test_beijing_filing_without_a_period_never_expires(client: httpx.AsyncClient, seed: Seed) -> None:
    """Expiry comes from the disease's re-review period; none where the catalog has none (Beijing)."""
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    app_id, zh = await submitted(client, seed, zhang)
    await claim(client, reviewer, app_id)
    assert (await decide(client, reviewer, app_id, "approve")).status_code == 200
    (qualification,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
    assert qualification["valid_until"] is None and qualification["review_period_years"] is None
    assert qualification["insurance_type"] == "employee" and qualification["benefits"] == []


async def test_reject_is_final_and_needs_a_reason(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    app_id, zh = await submitted(client, seed, zhang)
    await claim(client, reviewer, app_id)
    assert (await decide(client, reviewer, app_id, "reject")).json()["error"] == "reason_required"
    rejected = await decide(client, reviewer, app_id, "reject", [{"code": "disease_not_in_catalog"}])
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert (await submit(client, zh, app_id)).status_code == 409
    assert (await claim(client, reviewer, app_id)).json()["error"] == "not_claimable"


def test_periods_end_the_day_before_the_anniversary() -> None:
    assert valid_until(date(2025, 10, 11), 2) == date(2027, 10, 10)
    assert valid_until(date(2024, 2, 29), 3) == date(2027, 2, 27)
    assert valid_until(date(2025, 10, 11), None) is None
