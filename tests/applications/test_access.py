"""Access and hostile input on the application routes: someone else's application is a 404 everywhere;
window clerks change only their window entries; guessing a beneficiary is throttled; odd input never 500s."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy.engine import Engine

from mtb.identity.models import StaffRole
from tests.applications.helpers import (
    BEIJING_MATERIALS,
    BEIJING_SELF,
    HUBEI,
    create,
    submit,
    upload,
    upload_all,
)
from tests.apps import app_with
from tests.conftest import Clock
from tests.factories import SHENNONGJIA, Seed
from tests.files import pdf
from tests.review.helpers import claim, decide, submitted


async def test_someone_else_gets_404_on_every_route(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    zh = await seed.login(zhang)
    app_id = (await create(client, zh, **BEIJING_SELF)).json()["id"]
    material = (await upload(client, zh, app_id, "diagnosis_certificate")).json()
    li = await seed.login(await seed.person("li"))
    base = f"/api/v1/applications/{app_id}"
    attempts = [
        ("GET", base, {}), ("GET", f"{base}/form.pdf", {}), ("POST", f"{base}/submit", {}),
        ("POST", f"{base}/withdraw", {}), ("GET", material["download_url"], {}),
        ("DELETE", f"{base}/materials/{material['id']}", {}),
        ("POST", f"{base}/materials", {"data": {"kind": "filing_form"},
                                       "files": {"file": ("a.pdf", pdf(), "application/pdf")}}),
        ("PUT", f"{base}/materials/{material['id']}", {"files": {"file": ("a.pdf", pdf(), "application/pdf")}}),
    ]
    for method, path, extra in attempts:
        response = await client.request(method, path, headers=li, **extra)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "application_not_found"
    snj = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    assert (await client.get(material["download_url"], headers=snj)).status_code == 404
    # Nothing changed for the owner.
    assert (await client.get(base, headers=zh)).json()["materials"][0]["id"] == material["id"]


async def test_window_clerk_cannot_change_online_applications(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zh = await seed.login(await seed.person("zhang"))
    app_id = (await create(client, zh, **BEIJING_SELF)).json()["id"]
    clerk = await seed.staff_login(await seed.staff("bj_window", StaffRole.window))
    assert (await client.get(f"/api/v1/applications/{app_id}", headers=clerk)).status_code == 200
    for response in (await client.post(f"/api/v1/applications/{app_id}/withdraw", headers=clerk),
                     await upload(client, clerk, app_id, "diagnosis_certificate"),
                     await submit(client, clerk, app_id)):
        assert response.status_code == 403 and response.json()["error"] == "not_window_entry"
    assert (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["status"] == "draft"


async def test_guessing_a_beneficiary_is_throttled_like_a_login(client: httpx.AsyncClient, seed: Seed,
                                                               settings: object) -> None:
    """Naming a beneficiary confirms name + ID + card number: it must not be a way round the login limit."""
    await seed.catalogs()
    zhao, qian = await seed.person("zhao"), await seed.person("qian")
    qh = await seed.login(qian)
    for i in range(5):
        guess = zhao.credentials() | {"card_number": f"GUESS{i:04d}", "relation": "parent"}
        assert (await create(client, qh, **HUBEI, beneficiary=guess)).status_code == 422
    right = await create(client, qh, **HUBEI, beneficiary=zhao.credentials() | {"relation": "parent"})
    assert right.status_code == 429 and right.json()["error"] == "too_many_attempts"
    # The same counter guards zhao's own login.
    assert (await client.post("/api/v1/auth/real-name", json=zhao.credentials())).status_code == 429


async def test_a_district_of_beijing_is_beijing(client: httpx.AsyncClient, seed: Seed) -> None:
    """A person registered in a Beijing district is insured in Beijing: no cross-region filing needed."""
    await seed.catalogs()
    chaoyang = await seed.person(name="朝阳人", region_code="110105")
    response = await create(client, await seed.login(chaoyang), **BEIJING_SELF)
    assert response.status_code == 201, response.text


async def test_an_expired_cross_region_filing_can_be_filed_again(client: httpx.AsyncClient, seed: Seed,
                                                                 clock: Clock) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    sun = await seed.person("sun")
    sh = await seed.login(sun)
    past = await client.post("/api/v1/cross-region-filings", headers=sh,
                             json={"treatment_region_code": SHENNONGJIA, "valid_from": "2027-01-01",
                                   "valid_until": "2027-02-01"})
    assert past.status_code == 422 and past.json()["error"] == "invalid_period"
    short = await client.post("/api/v1/cross-region-filings", headers=sh,
                              json={"treatment_region_code": SHENNONGJIA, "valid_until": "2027-03-31"})
    assert short.status_code == 201
    clock.set("2027-04-02")
    sh = await seed.login(sun)
    assert (await create(client, sh, **HUBEI)).json()["error"] == "cross_region_filing_required"
    again = await client.post("/api/v1/cross-region-filings", headers=sh, json={"treatment_region_code": SHENNONGJIA})
    assert again.status_code == 201
    assert (await create(client, sh, **HUBEI)).status_code == 201


async def test_odd_input_never_breaks_a_route(client: httpx.AsyncClient, seed: Seed, sync_engine: Engine) -> None:
    await seed.catalogs()
    odd = await seed.person(name="A<B&C")
    headers = await seed.login(odd)
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    assert (await client.get(f"/api/v1/applications/{app_id}/form.pdf", headers=headers)).status_code == 200
    broken = re.sub(rb"xref\n0 \d+", b"xref\n0 262", pdf())
    refused = await upload(client, headers, app_id, "filing_form", broken, name="x.pdf")
    assert refused.status_code == 422 and refused.json()["error"] == "pdf_unreadable"
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    for cursor in ("WyIyMDI1LTAxLTAxIiwiMjAyNS0wMS0wMVQwMDowMDowMCIsNV0=", "!!!"):
        bad = await client.get("/api/v1/review/queue", params={"cursor": cursor}, headers=reviewer)
        assert bad.status_code == 422 and bad.json()["error"] == "invalid_cursor"
    # PostgreSQL cannot store NUL in text: that is the client's error (422), not the server's.
    nul = await client.post(f"/api/v1/applications/{app_id}/withdraw", headers=headers, json={"reason": "a\x00b"})
    if sync_engine.dialect.name == "postgresql":
        assert nul.status_code == 422 and nul.json()["error"] == "invalid_text"
    else:
        assert nul.status_code == 200
    staff_nul = await client.post("/api/v1/auth/staff", json={"username": "x\x00", "password": "y"})
    assert staff_nul.status_code in ((422,) if sync_engine.dialect.name == "postgresql" else (401,))


async def test_claim_race_names_the_holder(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    a = await seed.staff_login(await seed.staff("rev_a", StaffRole.reviewer))
    b = await seed.staff_login(await seed.staff("rev_b", StaffRole.reviewer))
    results = await asyncio.gather(claim(client, a, app_id), claim(client, b, app_id))
    assert sorted(r.status_code for r in results) == [200, 409]
    loser = next(r for r in results if r.status_code == 409).json()
    assert loser["error"] == "claimed_by_other" and loser["holder"] in ("rev_a", "rev_b")


async def test_the_approver_cannot_check_their_own_sample(seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    async with app_with(monkeypatch, MTB_QUALITY_SAMPLE_RATE="1") as s:
        await s.catalogs()
        app_id, _ = await submitted(s.client, s, await s.person("zhang"))
        admin = await s.staff_login(await s.staff("bj_admin", StaffRole.admin))
        other_admin = await s.staff_login(await s.staff("bj_admin2", StaffRole.admin))
        await claim(s.client, admin, app_id)
        await decide(s.client, admin, app_id, "approve")
        (sample,) = (await s.client.get("/api/v1/review/samples", headers=admin)).json()
        own = await s.client.post(f"/api/v1/review/samples/{sample['id']}/check", headers=admin,
                                  json={"result": "confirmed"})
        assert own.status_code == 409 and own.json()["error"] == "four_eyes_required"
        other = await s.client.post(f"/api/v1/review/samples/{sample['id']}/check", headers=other_admin,
                                    json={"result": "confirmed"})
        assert other.status_code == 200


async def test_deleting_a_material_races_submission_safely(client: httpx.AsyncClient, seed: Seed) -> None:
    """A submission never goes through without a material it counted."""
    await seed.catalogs()
    zh = await seed.login(await seed.person("zhang"))
    app_id = (await create(client, zh, **BEIJING_SELF)).json()["id"]
    await upload_all(client, zh, app_id, BEIJING_MATERIALS)
    certificate = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["materials"][0]
    delete, sub = await asyncio.gather(
        client.delete(f"/api/v1/applications/{app_id}/materials/{certificate['id']}", headers=zh),
        submit(client, zh, app_id))
    final = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()
    kinds = {m["kind"] for m in final["materials"]}
    if final["status"] == "submitted":
        assert "diagnosis_certificate" in kinds and delete.status_code == 409
    else:
        assert delete.status_code == 204 and sub.status_code in (409, 422)
