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
