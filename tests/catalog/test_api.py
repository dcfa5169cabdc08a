"""The public catalog API of both reference regions."""

from __future__ import annotations

import httpx

from tests.factories import Seed


async def test_regions_with_channels(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    response = await client.get("/api/v1/regions")
    assert response.status_code == 200
    regions = {r["code"]: r for r in response.json()}
    assert set(regions) == {"110000", "429021"}
    assert regions["110000"]["name"] == "北京市"
    assert regions["429021"]["program"] == "门诊慢特病病种待遇认定"
    channels = {c["code"]: c["kind"] for c in regions["429021"]["channels"]}
    assert channels == {"hb_mp": "online", "window": "window"}


async def test_beijing_diseases_with_materials_and_rules(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    response = await client.get("/api/v1/regions/110000/diseases")
    assert response.status_code == 200
    diseases = {d["code"]: d for d in response.json()}
    assert len(diseases) == 9
    ms = diseases["BJ-MS"]
    assert ms["rules"][0]["title"] == "associate_chief"
    assert [(m["kind"], m["required"]) for m in ms["materials"]] == [
        ("diagnosis_certificate", True), ("filing_form", True), ("supplementary", False)]
    assert ms["materials"][0]["fields"] == ["physician_title"]
    assert ms["review_period_years"] is None
    eye = diseases["BJ-FUNDUS-INJECTION"]
    assert [o["code"] for o in eye["laterality"]] == ["one_eye", "both_eyes"]


async def test_hubei_diseases_and_hospitals(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    diseases = (await client.get("/api/v1/regions/429021/diseases")).json()
    assert {d["category_name"] for d in diseases} == {"门诊特殊疾病"}
    smi = next(d for d in diseases if d["code"] == "HB-SMI")
    assert smi["national_codes"] == [f"M0210{i}" for i in range(1, 7)]
    assert smi["review_period_is_example"] is True
    form = next(m for m in smi["materials"] if m["kind"] == "application_form")
    assert form["generated"] is True
    hospitals = (await client.get("/api/v1/regions/429021/hospitals")).json()
    assert hospitals and all(h["is_example"] for h in hospitals)


async def test_unknown_region_is_404(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    for path in ("/api/v1/regions/999999", "/api/v1/regions/999999/diseases", "/api/v1/regions/x/hospitals"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["error"] == "region_not_found"


async def test_region_tells_a_client_everything_it_must_send(client: httpx.AsyncClient, seed: Seed) -> None:
    """Issue 17 (4): physician titles with code, name and rank; material kinds with their fields and allowed
    values; relations; channels; the contact (12393 marked as example); the reason codes."""
    await seed.catalogs()
    for code in ("110000", "429021"):
        region = (await client.get(f"/api/v1/regions/{code}")).json()
        titles = region["physician_titles"]
        assert [(t["code"], t["rank"]) for t in titles] == [
            ("resident", 0), ("attending", 1), ("associate_chief", 2), ("chief", 3)]
        assert titles[2]["name"] == "副主任医师"
        certificate = next(k for k in region["material_kinds"] if k["kind"] == "diagnosis_certificate")
        title_field = next(f for f in certificate["fields"] if f["name"] == "physician_title")
        assert [a["code"] for a in title_field["allowed"]] == [t["code"] for t in titles]
        assert title_field["label"] == "出具医师职称"
        assert {r["code"] for r in region["relations"]} == {"spouse", "parent", "child", "sibling", "other_relative",
                                                            "other"}
        assert all(c["code"] and c["name"] and c["kind"] in ("online", "window") for c in region["channels"])
        hotline = region["contact"]["hotline"]
        assert hotline["value"] == "12393" and hotline["is_example"] is True
        reasons = {r["code"]: r for r in region["reason_codes"]}
        assert reasons["other"]["needs_detail"] is True and "materials_incomplete" in reasons
    beijing = (await client.get("/api/v1/regions/110000")).json()["contact"]
    assert beijing["window_address"]["value"] is None and beijing["window_hours"]["value"] is None
    hubei = (await client.get("/api/v1/regions/429021")).json()["contact"]
    assert hubei["window_hours"] == {"value": "工作日工作时间", "is_example": False, "note": "指南：需在工作日工作时间内办理"}
    listed = (await client.get("/api/v1/regions")).json()
    assert all(r["physician_titles"] and r["material_kinds"] and r["reason_codes"] for r in listed)
    diseases = {d["code"]: d for d in (await client.get("/api/v1/regions/110000/diseases")).json()}
    spec = diseases["BJ-MS"]["materials"][0]["field_specs"][0]
    assert spec["name"] == "physician_title" and [a["code"] for a in spec["allowed"]][2] == "associate_chief"


async def test_refusals_name_allowed_values_as_they_must_be_sent(client: httpx.AsyncClient, seed: Seed) -> None:
    """Every refusal that lists allowed values gives the codes a client sends (in the message and as `allowed`)."""
    from tests.applications.helpers import BEIJING_SELF, create, upload

    await seed.catalogs()
    zh = await seed.login(await seed.person("zhang"))
    app_id = (await create(client, zh, **BEIJING_SELF)).json()["id"]
    cases = [
        (await upload(client, zh, app_id, "diagnosis_certificate", physician_title="副主任医师"),
         "physician_title_invalid", ["resident", "attending", "associate_chief", "chief"]),
        (await upload(client, zh, app_id, "identity_front"), "material_kind_unknown",
         ["diagnosis_certificate", "filing_form", "supplementary"]),
        (await create(client, zh, **BEIJING_SELF | {"disease_code": "BJ-FUNDUS-INJECTION", "laterality": "左眼"}),
         "laterality_invalid", ["one_eye", "both_eyes"]),
        (await create(client, zh, **BEIJING_SELF | {"disease_code": "BJ-FUNDUS-INJECTION"}),
         "laterality_required", ["one_eye", "both_eyes"]),
        (await create(client, zh, **BEIJING_SELF | {"disease_code": "BJ-HEMOPHILIA", "channel": "wechat"}),
         "channel_unknown", ["bj_app", "jingtong", "national_app"]),
    ]
    for response, code, allowed in cases:
        body = response.json()
        assert response.status_code == 422 and body["error"] == code, body
        assert [a["code"] for a in body["allowed"]] == allowed, code
        assert all(value in body["detail"] for value in allowed), body["detail"]


async def test_unknown_reason_code_names_the_codes(client: httpx.AsyncClient, seed: Seed) -> None:
    from mtb.identity.models import StaffRole
    from tests.review.helpers import claim, decide, submitted

    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    assert (await claim(client, reviewer, app_id)).status_code == 200
    refused = await decide(client, reviewer, app_id, "return", [{"code": "bad_photo"}])
    body = refused.json()
    assert refused.status_code == 422 and body["error"] == "reason_code_unknown"
    published = [r["code"] for r in (await client.get("/api/v1/regions/110000")).json()["reason_codes"]]
    assert [a["code"] for a in body["allowed"]] == published
    assert all(code in body["detail"] for code in published)
