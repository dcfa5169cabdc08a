"""Starting an application: for oneself, for another person, at the window; every eligibility refusal.

Each test names the rule of domain.md (or the issue) it enforces.
"""

from __future__ import annotations

import asyncio

import httpx

from mtb.identity.models import PersonStatus, StaffRole
from tests.applications.helpers import BEIJING_SELF, HUBEI, create
from tests.factories import SHENNONGJIA, Seed


async def test_beijing_for_oneself_starts_a_draft_only_the_owner_sees(client: httpx.AsyncClient, seed: Seed) -> None:
    """domain.md: "A person may apply for themself"; someone else's application is a 404."""
    await seed.catalogs()
    zhang, li = await seed.person("zhang"), await seed.person("li")
    zh, lh = await seed.login(zhang), await seed.login(li)
    response = await create(client, zh, **BEIJING_SELF)
    assert response.status_code == 201, response.text
    app = response.json()
    assert app["status"] == "draft" and app["relation"] == "self" and app["submitted_by"] == "本人"
    assert app["disease"]["name"] == "恶性肿瘤化学治疗（化疗）" and app["catalog_version"] == "2025.1"
    assert app["beneficiary"] == {"name": "张三", "id_number_masked": "**************9010"}
    assert [(t["from_status"], t["to_status"]) for t in app["timeline"]] == [(None, "draft")]
    assert [c["kind"] for c in app["checklist"]] == ["diagnosis_certificate", "filing_form", "supplementary"]
    assert (await client.get(f"/api/v1/applications/{app['id']}", headers=zh)).status_code == 200
    other = await client.get(f"/api/v1/applications/{app['id']}", headers=lh)
    assert other.status_code == 404 and other.json()["error"] == "application_not_found"
    assert [a["id"] for a in (await client.get("/api/v1/applications", headers=zh)).json()] == [app["id"]]
    assert (await client.get("/api/v1/applications", headers=lh)).json() == []
    assert (await client.get(f"/api/v1/applications/{app['id']}")).status_code == 401


async def test_agent_applies_for_a_family_member_and_both_see_it(client: httpx.AsyncClient, seed: Seed) -> None:
    """domain.md: "A person may apply ... for another person (agent application)"."""
    await seed.catalogs()
    zhao, qian, li = await seed.person("zhao"), await seed.person("qian"), await seed.person("li")
    qh = await seed.login(qian)
    beneficiary = zhao.credentials() | {"relation": "child"}
    response = await create(client, qh, **HUBEI, beneficiary=beneficiary)
    assert response.status_code == 201, response.text
    app = response.json()
    assert app["relation"] == "child" and app["submitted_by"] == "代办人 钱七"
    assert app["beneficiary"]["name"] == "赵六"
    for who in (qian, zhao):
        assert (await client.get(f"/api/v1/applications/{app['id']}", headers=await seed.login(who))).status_code == 200
    assert (await client.get(f"/api/v1/applications/{app['id']}", headers=await seed.login(li))).status_code == 404


async def test_agent_must_name_a_registered_beneficiary_exactly(client: httpx.AsyncClient, seed: Seed) -> None:
    """domain.md Identity: name, ID number and card number are filled in or confirmed; all three must match."""
    await seed.catalogs()
    zhao, qian = await seed.person("zhao"), await seed.person("qian")
    qh = await seed.login(qian)
    for wrong in ({"name": "赵七"}, {"card_number": "HB0"}, {"id_number": qian.id_number}):
        response = await create(client, qh, **HUBEI, beneficiary=zhao.credentials() | {"relation": "child"} | wrong)
        assert response.status_code == 422
        assert response.json()["error"] == "beneficiary_not_found"


async def test_catalog_refusals_each_with_its_code(client: httpx.AsyncClient, seed: Seed) -> None:
    """domain.md: "A person's disease must be in the catalog"; the hospital must be designated in the region;
    the channel must be one of the region's; the eye injection is for one eye or both eyes."""
    await seed.catalogs()
    zh = await seed.login(await seed.person("zhang"))
    cases = [
        (BEIJING_SELF | {"disease_code": "HB-SMI"}, "disease_not_in_catalog"),
        (BEIJING_SELF | {"hospital_code": "SNJ-EX-0001"}, "hospital_not_designated"),
        (BEIJING_SELF | {"channel": "hb_mp"}, "channel_unknown"),
        (BEIJING_SELF | {"channel": "window"}, "window_channel_staff_only"),
        (BEIJING_SELF | {"disease_code": "BJ-FUNDUS-INJECTION"}, "laterality_required"),
        (BEIJING_SELF | {"disease_code": "BJ-FUNDUS-INJECTION", "laterality": "three_eyes"}, "laterality_invalid"),
        (BEIJING_SELF | {"laterality": "one_eye"}, "laterality_not_applicable"),
    ]
    for payload, code in cases:
        response = await create(client, zh, **payload)
        assert (response.status_code, response.json()["error"]) == (422, code), (payload, response.text)
    unknown = await create(client, zh, **BEIJING_SELF | {"region_code": "310000"})
    assert (unknown.status_code, unknown.json()["error"]) == (404, "region_not_found")
    eye = await create(client, zh, **BEIJING_SELF | {"disease_code": "BJ-FUNDUS-INJECTION", "laterality": "both_eyes"})
    assert eye.status_code == 201 and eye.json()["laterality"] == {"code": "both_eyes", "name": "双眼"}


async def test_person_must_be_insured_and_active(client: httpx.AsyncClient, seed: Seed) -> None:
    """The person insured and active (issue 3, eligibility)."""
    await seed.catalogs()
    suspended = await seed.person(name="停保人", status=PersonStatus.suspended)
    response = await create(client, await seed.login(suspended), **BEIJING_SELF)
    assert response.status_code == 422 and response.json()["error"] == "person_not_insured_active"


async def test_insured_elsewhere_needs_a_cross_region_filing_first(client: httpx.AsyncClient, seed: Seed) -> None:
    """domain.md: "a person who is treated outside the region where they are insured must first complete
    cross-region medical treatment filing; a person treated in their own region skips it"."""
    await seed.catalogs()
    sun = await seed.person("sun")  # insured in Wuhan (420102)
    sh = await seed.login(sun)
    refused = await create(client, sh, **HUBEI)
    assert refused.status_code == 422 and refused.json()["error"] == "cross_region_filing_required"
    assert "湖北省武汉市江岸区" in refused.json()["detail"]
    own = await client.post("/api/v1/cross-region-filings", json={"treatment_region_code": "420102"}, headers=sh)
    assert own.status_code == 422 and own.json()["error"] == "cross_region_not_needed"
    filed = await client.post("/api/v1/cross-region-filings", json={"treatment_region_code": SHENNONGJIA}, headers=sh)
    assert filed.status_code == 201 and filed.json()["treatment_region_name"] == "湖北省神农架林区"
    again = await client.post("/api/v1/cross-region-filings", json={"treatment_region_code": SHENNONGJIA}, headers=sh)
    assert again.status_code == 409 and again.json()["error"] == "cross_region_filing_exists"
    assert len((await client.get("/api/v1/cross-region-filings", headers=sh)).json()) == 1
    assert (await create(client, sh, **HUBEI)).status_code == 201


async def test_one_open_application_per_person_and_disease(client: httpx.AsyncClient, seed: Seed) -> None:
    """No second open application for the same person and disease (409 naming the existing one)."""
    await seed.catalogs()
    zhao, qian = await seed.person("zhao"), await seed.person("qian")
    zh = await seed.login(zhao)
    first = (await create(client, zh, **HUBEI)).json()
    # The agent trying the same disease for the same person meets the same application.
    second = await create(client, await seed.login(qian), **HUBEI, beneficiary=zhao.credentials() | {"relation": "child"})
    assert second.status_code == 409
    assert second.json()["error"] == "application_exists" and second.json()["application_id"] == first["id"]
    assert (await create(client, zh, **HUBEI | {"disease_code": "HB-SMI"})).status_code == 201
    withdrawn = await client.post(f"/api/v1/applications/{first['id']}/withdraw", headers=zh,
                                  json={"reason": "填错了医院"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert (await create(client, zh, **HUBEI)).status_code == 201


async def test_racing_creations_make_exactly_one(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zh = await seed.login(await seed.person("zhang"))
    responses = await asyncio.gather(*(create(client, zh, **BEIJING_SELF) for _ in range(4)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409], [r.text for r in responses]
    assert all(r.json()["error"] == "application_exists" for r in responses if r.status_code == 409)


async def test_window_clerk_enters_a_paper_application(client: httpx.AsyncClient, seed: Seed) -> None:
    """domain.md: "The offline channel (医保经办窗口) stays ... for people who cannot use a phone"; the person
    then sees it under their own login."""
    await seed.catalogs()
    zhang = await seed.person("zhang")
    clerk = await seed.staff_login(await seed.staff("bj_window", StaffRole.window))
    at_counter = BEIJING_SELF | {"channel": "window", "beneficiary": zhang.credentials() | {"relation": "other"}}
    response = await create(client, clerk, **at_counter)
    assert response.status_code == 201, response.text
    app = response.json()
    assert app["channel"]["code"] == "window" and app["submitted_by"] == "经办窗口代录"
    assert (await client.get(f"/api/v1/applications/{app['id']}", headers=await seed.login(zhang))).status_code == 200
    online = await create(client, clerk, **BEIJING_SELF | {"beneficiary": zhang.credentials() | {"relation": "other"}})
    assert online.json()["error"] == "window_channel_required"
    no_one = await create(client, clerk, **BEIJING_SELF | {"channel": "window"})
    assert no_one.json()["error"] == "beneficiary_required"
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    assert (await create(client, reviewer, **at_counter)).status_code == 403
    snj_clerk = await seed.staff_login(await seed.staff("snj_window", StaffRole.window, SHENNONGJIA))
    assert (await create(client, snj_clerk, **at_counter)).json()["error"] == "region_mismatch"
    # Staff read their own region's applications only.
    assert (await client.get(f"/api/v1/applications/{app['id']}", headers=reviewer)).status_code == 200
    assert (await client.get(f"/api/v1/applications/{app['id']}", headers=snj_clerk)).status_code == 404


async def test_list_pages_refuse_out_of_range_numbers(client: httpx.AsyncClient, seed: Seed) -> None:
    """A page number past any real list is a 422, not a database overflow (found by the fuzzer: an offset
    above 2**63 was a 500 on SQLite)."""
    await seed.catalogs()
    zh = await seed.login(await seed.person("zhang"))
    assert (await create(client, zh, **BEIJING_SELF)).status_code == 201
    for path in ("/api/v1/applications", "/api/v1/notifications"):
        for query in ("offset=99999999999999999999999", "offset=-1", "limit=0", "limit=101"):
            refused = await client.get(f"{path}?{query}", headers=zh)
            assert refused.status_code == 422 and refused.json()["error"] == "invalid_request", (path, query)
        assert (await client.get(f"{path}?limit=100&offset=1000000", headers=zh)).json() == []
    assert len((await client.get("/api/v1/applications?limit=1", headers=zh)).json()) == 1
