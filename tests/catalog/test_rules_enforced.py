"""Rules present but not enforced until issue 17 (part 3): each now refused or warned with its own code.
(The minimum physician title at upload is in tests/applications/test_submit.py.)"""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from mtb.identity.models import StaffRole
from tests.applications.helpers import (
    BEIJING_MATERIALS,
    BEIJING_SELF,
    HUBEI,
    HUBEI_MATERIALS,
    create,
    draft_with_materials,
    submit,
    upload,
    upload_all,
)
from tests.conftest import Clock
from tests.factories import SHENNONGJIA, Seed
from tests.review.helpers import claim, decide
from tests.web.helpers import as_person, post_form

DECLARATION = "本人确认：所提交的信息和材料真实、有效、完整。"


async def test_hubei_submission_needs_the_declaration_confirmed(client: httpx.AsyncClient, seed: Seed) -> None:
    """Hubei: "所有材料需真实、有效、完整". Without the confirmation of the catalog's declaration (or with another
    version) the submission is refused with `declaration_required` and the text to confirm; confirmed, the
    history holds the confirmation with the text's version. Beijing has none to confirm."""
    await seed.catalogs()
    zhao = await seed.person("zhao")
    headers = await seed.login(zhao)
    app_id = await draft_with_materials(client, headers, HUBEI_MATERIALS, **HUBEI)
    region = (await client.get(f"/api/v1/regions/{SHENNONGJIA}")).json()
    assert region["declaration"]["text"] == DECLARATION and region["declaration"]["version"] == "1"
    for body in (None, {"declaration_version": "0"}, {}):
        refused = await client.post(f"/api/v1/applications/{app_id}/submit", headers=headers, json=body)
        assert refused.status_code == 422 and refused.json()["error"] == "declaration_required", body
        assert refused.json()["declaration"] == {"version": "1", "text": DECLARATION}
    assert (await submit(client, headers, app_id)).status_code == 200
    reviewer = await seed.staff_login(await seed.staff("snj_rev", StaffRole.reviewer, SHENNONGJIA))
    history = (await client.get(f"/api/v1/review/applications/{app_id}/history", headers=reviewer)).json()
    confirmed = [e for e in history if e["action"] == "declaration_confirmed"]
    assert len(confirmed) == 1 and confirmed[0]["detail"] == {"version": "1", "text": DECLARATION}
    assert confirmed[0]["actor_kind"] == "person"

    beijing = await seed.login(await seed.person("zhang"))
    bj_id = await draft_with_materials(client, beijing, BEIJING_MATERIALS, **BEIJING_SELF)
    assert (await submit(client, beijing, bj_id, confirm=False)).status_code == 200


async def test_declaration_on_the_page(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhao = await seed.person("zhao")
    headers = await seed.login(zhao)
    app_id = await draft_with_materials(client, headers, HUBEI_MATERIALS, **HUBEI)
    await as_person(seed, zhao)
    page = (await client.get(f"/applications/{app_id}")).text
    assert DECLARATION in page and 'id="declaration"' in page
    refused = await post_form(client, f"/applications/{app_id}/submit", {"idempotency_key": "a"})
    assert refused.status_code == 422 and "提交前请阅读并确认" in refused.text
    done = await post_form(client, f"/applications/{app_id}/submit", {"idempotency_key": "b", "declaration_version": "1"})
    assert done.status_code == 303


async def test_an_old_examination_report_is_a_warning_before_submitting(client: httpx.AsyncClient, seed: Seed,
                                                                        clock: Clock) -> None:
    """Hubei: "上传近期内能支持诊断的关键报告". A report dated more than the kind's maximum age (an example value:
    180 days) ago is accepted with the warning `material_too_old` (saying it is an example); a recent one, or
    one without a date, has none; a date that is no date, or in the future, is refused (`issue_date_invalid`)."""
    clock.set("2027-03-01")
    await seed.catalogs()
    zhao = await seed.person("zhao")
    headers = await seed.login(zhao)
    app_id = (await create(client, headers, **HUBEI)).json()["id"]
    today = date(2027, 3, 1)
    for days_ago, warned in ((0, False), (180, False), (181, True), (400, True)):
        issued = (today - timedelta(days=days_ago)).isoformat()
        response = await upload(client, headers, app_id, "exam_reports", issue_date=issued)
        assert response.status_code == 201, response.text
        codes = [w["code"] for w in response.json()["warnings"]]
        assert ("material_too_old" in codes) is warned, days_ago
        if warned:
            message = next(w["message"] for w in response.json()["warnings"] if w["code"] == "material_too_old")
            assert issued in message and "示例" in message
        assert response.json()["fields"]["issue_date"] == issued
    undated = await upload(client, headers, app_id, "exam_reports")
    assert undated.status_code == 201 and not any(w["code"] == "material_too_old" for w in undated.json()["warnings"])
    for bad in ("2027/02/01", "yesterday", "2027-03-02"):
        refused = await upload(client, headers, app_id, "exam_reports", issue_date=bad)
        assert refused.status_code == 422 and refused.json()["error"] == "issue_date_invalid", bad
    region = (await client.get(f"/api/v1/regions/{SHENNONGJIA}")).json()
    reports = next(k for k in region["material_kinds"] if k["kind"] == "exam_reports")
    assert (reports["max_age_days"], reports["max_age_is_example"]) == (180, True)
    assert [f["name"] for f in reports["fields"]] == ["issue_date"] and reports["fields"][0]["format"] == "date"


async def test_beijing_form_says_it_must_be_signed_and_a_reviewer_can_say_it_is_not(
        client: httpx.AsyncClient, seed: Seed) -> None:
    """Beijing's 申报表 "需医师签字": where the form is offered the page says print, have it signed, photograph or
    scan, upload; the reviewer's reason codes name a missing signature."""
    await seed.catalogs()
    zhang = await seed.person("zhang")
    headers = await seed.login(zhang)
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    await as_person(seed, zhang)
    page = (await client.get(f"/applications/{app_id}")).text
    assert 'id="how-to-filing_form"' in page and "签字" in page and "拍照或扫描" in page
    region = (await client.get("/api/v1/regions/110000")).json()
    form = next(k for k in region["material_kinds"] if k["kind"] == "filing_form")
    assert "签字" in form["how_to"]
    assert {"code": "physician_signature_missing", "name": "申报表缺少医师签字", "needs_detail": False} in region[
        "reason_codes"]
    await upload_all(client, headers, app_id, ["diagnosis_certificate", "filing_form"])
    assert (await submit(client, headers, app_id)).status_code == 200
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    assert (await claim(client, reviewer, app_id)).status_code == 200
    returned = await decide(client, reviewer, app_id, "return", [{"code": "physician_signature_missing"}])
    assert returned.status_code == 200, returned.text
    status = (await client.get(f"/api/v1/applications/{app_id}/status", headers=headers)).json()
    assert status["decision"]["reasons"][0]["name"] == "申报表缺少医师签字"
