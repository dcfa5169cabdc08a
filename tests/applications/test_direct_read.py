"""The applicant's read of an application goes through the direct reader (mtb/direct); staff reads go
through the session. Both must give the same answer, and the direct one keeps every access rule."""

from __future__ import annotations

from typing import Any

import httpx

from mtb.identity.models import StaffRole
from tests.applications.helpers import HUBEI, create
from tests.factories import Seed
from tests.files import document_photo
from tests.review.helpers import claim, decide, submitted

SHENNONGJIA = "429021"
STAFF_ONLY = {"prereview"}  # the machine pre-review's findings are shown to the region's staff


def _shared(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in STAFF_ONLY}



async def test_direct_and_session_reads_give_the_same_answer(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhao = await seed.person("zhao")
    qian = await seed.person("qian")
    reviewer = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    qh = await seed.login(qian)
    # An agent's application (submitted_by names the agent), returned with reasons and a material verdict.
    agent_app = await create(client, qh, **HUBEI, beneficiary=zhao.credentials() | {"relation": "child"})
    assert agent_app.status_code == 201, agent_app.text
    withdrawn = await client.post(f"/api/v1/applications/{agent_app.json()['id']}/withdraw", headers=qh)
    assert withdrawn.status_code == 200
    app_id, zh = await submitted(client, seed, zhao, hubei=True)
    assert (await claim(client, reviewer, app_id)).status_code == 200
    staff_view = (await client.get(f"/api/v1/applications/{app_id}", headers=reviewer)).json()
    certificate = next(m for m in staff_view["materials"] if m["kind"] == "diagnosis_certificate")
    returned = await decide(client, reviewer, app_id, "return",
                            [{"code": "material_unclear", "detail": "公章看不清"}],
                            materials=[{"material_id": certificate["id"], "verdict": "unclear", "comment": "模糊"}])
    assert returned.status_code == 200, returned.text

    by_applicant = await client.get(f"/api/v1/applications/{app_id}", headers=zh)
    by_staff = await client.get(f"/api/v1/applications/{app_id}", headers=reviewer)
    assert by_applicant.status_code == by_staff.status_code == 200
    assert by_applicant.headers["content-type"] == "application/json"
    assert _shared(by_applicant.json()) == _shared(by_staff.json())
    assert by_applicant.json()["prereview"] is None and by_staff.json()["prereview"] is not None
    seen = by_applicant.json()
    assert seen["status"] == "returned" and seen["decision"]["reasons"][0]["detail"] == "公章看不清"
    assert [t["to_status"] for t in seen["timeline"]] == ["draft", "submitted", "in_review", "returned"]
    assert next(m for m in seen["materials"] if m["id"] == certificate["id"])["verdict"] == "unclear"

    for_agent = await client.get(f"/api/v1/applications/{agent_app.json()['id']}", headers=qh)
    for_staff = await client.get(f"/api/v1/applications/{agent_app.json()['id']}", headers=reviewer)
    assert _shared(for_agent.json()) == _shared(for_staff.json())
    assert for_agent.json()["submitted_by"] == f"代办人 {qian.name}"
    # The beneficiary sees the application an agent made for them, too.
    assert (await client.get(f"/api/v1/applications/{agent_app.json()['id']}", headers=zh)).status_code == 200

    # A replaced file shows at once (no cache between the write and the direct read).
    replaced = await client.put(f"/api/v1/applications/{app_id}/materials/{certificate['id']}", headers=zh,
                                files={"file": ("c.jpg", document_photo(seed=7), "image/jpeg")})
    assert replaced.status_code == 200
    again = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()
    shown = next(m for m in again["materials"] if m["id"] == replaced.json()["id"])
    assert shown["verdict"] is None and shown["sha256"] == replaced.json()["sha256"]


async def test_direct_read_keeps_the_access_rules(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhao = await seed.person("zhao")
    li = await seed.person("li")
    app_id, zh = await submitted(client, seed, zhao, hubei=True)
    lh = await seed.login(li)

    other = await client.get(f"/api/v1/applications/{app_id}", headers=lh)
    assert other.status_code == 404 and other.json()["error"] == "application_not_found"
    missing = await client.get("/api/v1/applications/00000000-0000-0000-0000-000000000000", headers=zh)
    assert missing.status_code == 404
    assert (await client.get(f"/api/v1/applications/{app_id}")).status_code == 401
    bad = await client.get(f"/api/v1/applications/{app_id}", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.json()["error"] == "token_invalid"

    assert (await client.post("/api/v1/auth/logout", headers=zh)).status_code in (200, 204)
    revoked = await client.get(f"/api/v1/applications/{app_id}", headers=zh)
    assert revoked.status_code == 401 and revoked.json()["error"] == "token_revoked"


async def test_status_read_follows_the_application(client: httpx.AsyncClient, seed: Seed) -> None:
    """The compact status an app polls: the same status, due date and latest decision as the full read."""
    await seed.catalogs()
    zhao = await seed.person("zhao")
    li = await seed.person("li")
    reviewer = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    app_id, zh = await submitted(client, seed, zhao, hubei=True)
    status = await client.get(f"/api/v1/applications/{app_id}/status", headers=zh)
    assert status.status_code == 200, status.text
    first = status.json()
    assert (first["status"], first["status_label"], first["round"], first["decision"]) == ("submitted", "已提交，待审核", 1, None)
    assert first["disease"] == {"code": "HB-CRF-DIALYSIS", "name": "慢性肾功能衰竭透析"}

    assert (await claim(client, reviewer, app_id)).status_code == 200
    assert (await decide(client, reviewer, app_id, "return", [{"code": "material_unclear", "detail": "公章看不清"},
                                                               {"code": "information_inconsistent"}])).status_code == 200
    full = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()
    now = (await client.get(f"/api/v1/applications/{app_id}/status", headers=zh)).json()
    assert now["status"] == full["status"] == "returned" and now["due_date"] == full["due_date"]
    assert now["decision"] == full["decision"]
    assert [r["name"] for r in now["decision"]["reasons"]] == ["材料不清晰", "填报信息与材料不一致"]

    other = await client.get(f"/api/v1/applications/{app_id}/status", headers=await seed.login(li))
    assert other.status_code == 404 and other.json()["error"] == "application_not_found"
    staff = await client.get(f"/api/v1/applications/{app_id}/status", headers=reviewer)
    assert staff.status_code == 403 and staff.json()["error"] == "forbidden_role"
    assert (await client.post("/api/v1/auth/logout", headers=zh)).status_code in (200, 204)
    revoked = await client.get(f"/api/v1/applications/{app_id}/status", headers=zh)
    assert revoked.status_code == 401 and revoked.json()["error"] == "token_revoked"
