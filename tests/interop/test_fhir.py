"""The FHIR R4 export: every resource MTB emits passes the FHIR models of fhir.resources (R4B, whose
resources used here are R4's), carries MTB's data under the documented mapping, never the full ID number
or the card number, and is read under the application API's access rules."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select, update
from typer.testing import CliRunner

from mtb.applications.models import ApplicationEvent
from mtb.cli import app as cli
from mtb.identity.models import StaffRole
from mtb.interop.fhir import TASK_STATUS
from mtb.qualifications.models import Qualification
from tests.applications.helpers import (
    BEIJING_MATERIALS,
    BEIJING_SELF,
    HUBEI_MATERIALS,
    create,
    submit,
    upload_all,
)
from tests.conftest import Clock
from tests.factories import SHENNONGJIA, Person, Seed
from tests.qualifications.helpers import approve
from tests.review.helpers import claim, decide, submitted

FHIR = "/api/v1/fhir"
runner = CliRunner()


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate with the FHIR model of the resource's type (a Bundle: each entry's resource too)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry", []):
        valid(entry["resource"])
    return resource


async def read(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    response = await client.get(f"{FHIR}/{path}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    return valid(response.json())


def assert_private(text: str, *people: Person) -> None:
    for person in people:
        assert person.id_number not in text and person.card_number not in text


async def test_bundle_of_an_approved_application(client: httpx.AsyncClient, seed: Seed, clock: Clock) -> None:
    clock.set("2025-03-03")
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer_row = await seed.staff("bj_reviewer", StaffRole.reviewer)
    reviewer = await seed.staff_login(reviewer_row)
    app_id, own = await submitted(client, seed, zhang)
    application = (await client.get(f"/api/v1/applications/{app_id}", headers=own)).json()
    await approve(client, reviewer, app_id)

    response = await client.get(f"{FHIR}/Task/{app_id}/$everything", headers=own)
    assert response.status_code == 200, response.text
    assert_private(response.text, zhang)
    bundle = valid(response.json())
    assert (bundle["type"], bundle["total"]) == ("searchset", 1)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        by_type.setdefault(resource["resourceType"], []).append(resource)
        assert entry["fullUrl"] == f"http://mtb.test{FHIR}/{resource['resourceType']}/{resource['id']}"
    assert {k: len(v) for k, v in by_type.items()} == {
        "Task": 1, "Patient": 1, "Coverage": 1, "Condition": 1, "CoverageEligibilityRequest": 1,
        "DocumentReference": 2, "CoverageEligibilityResponse": 1}
    assert bundle["entry"][0]["search"]["mode"] == "match"

    (task,) = by_type["Task"]
    assert task["id"] == app_id and task["status"] == "completed"
    assert task["businessStatus"]["coding"][0]["code"] == "approved"
    assert task["owner"]["display"] == "bj_reviewer"
    assert task["owner"]["identifier"]["value"] == str(reviewer_row.id)
    assert task["restriction"]["period"]["end"] == application["due_date"] == "2025-03-06"
    assert task["executionPeriod"]["start"] <= task["executionPeriod"]["end"]
    assert task["for"] == {"reference": f"Patient/{zhang.row.id}"}
    assert task["requester"] == {"reference": f"Patient/{zhang.row.id}"}
    assert task["reasonReference"] == {"reference": f"Condition/{app_id}"}
    assert task["focus"]["reference"] == f"CoverageEligibilityRequest/{app_id}"

    (request,) = by_type["CoverageEligibilityRequest"]
    assert (request["id"], request["status"], request["purpose"]) == (app_id, "active", ["validation"])
    assert request["patient"] == {"reference": f"Patient/{zhang.row.id}"}
    assert request["insurance"] == [{"focal": True, "coverage": {"reference": f"Coverage/{zhang.row.id}"}}]
    assert request["item"][0]["category"]["coding"][0]["code"] == "BJ-TUMOR-CHEMO"
    assert request["item"][0]["diagnosis"] == [{"diagnosisReference": {"reference": f"Condition/{app_id}"}}]
    assert request["insurer"]["identifier"]["value"] == "110000"

    (patient,) = by_type["Patient"]
    masked = f"**************{zhang.id_number[-4:]}"
    assert patient["identifier"][0]["value"] == zhang.row.id_number_masked == masked
    assert (patient["name"][0]["text"], patient["gender"], patient["birthDate"]) == ("张三", "male", "1980")
    assert patient["extension"][0]["valueCoding"]["code"] == "110000"

    (coverage,) = by_type["Coverage"]
    assert coverage["type"]["coding"][0]["code"] == "employee"
    assert coverage["beneficiary"] == {"reference": f"Patient/{zhang.row.id}"}
    assert coverage["payor"][0]["identifier"]["value"] == "110000"

    (condition,) = by_type["Condition"]
    assert condition["code"]["coding"] == [{"system": "urn:mtb:catalog:110000:2025.1:disease",
                                            "code": "BJ-TUMOR-CHEMO",
                                            "display": application["disease"]["name"]}]
    assert condition["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert condition["subject"] == {"reference": f"Patient/{zhang.row.id}"}

    materials = {m["id"]: m for m in application["materials"]}
    for doc in by_type["DocumentReference"]:
        material = materials[doc["id"]]
        attachment = doc["content"][0]["attachment"]
        assert doc["type"]["coding"][0]["code"] == material["kind"]
        assert doc["type"]["coding"][0]["display"] == material["kind_name"]
        assert (attachment["contentType"], attachment["size"]) == (material["content_type"], material["size"])
        assert attachment["url"] == f"http://mtb.test{material['download_url']}"
        assert doc["context"]["related"] == [{"reference": f"Task/{app_id}"}]
        downloaded = await client.get(attachment["url"], headers=own)
        assert downloaded.status_code == 200
        assert attachment["extension"] == [{"url": "urn:mtb:extension:sha256",
                                            "valueString": hashlib.sha256(downloaded.content).hexdigest()}]

    (filing,) = by_type["CoverageEligibilityResponse"]
    (q,) = (await client.get("/api/v1/qualifications", headers=own)).json()
    assert filing["id"] == q["id"]
    assert task["output"][0]["valueReference"]["reference"] == f"CoverageEligibilityResponse/{q['id']}"
    assert (filing["status"], filing["outcome"]) == ("active", "complete")
    assert filing["insurance"][0]["inforce"] is True
    assert filing["insurance"][0]["benefitPeriod"] == {"start": "2025-03-03"}  # Beijing: no re-review period
    assert filing["requestor"]["display"] == application["hospital"]["name"]
    assert filing["insurer"]["identifier"]["value"] == "110000"
    assert filing["request"]["reference"] == f"CoverageEligibilityRequest/{app_id}"  # in the bundle


async def test_task_follows_every_status(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhao = await seed.person("zhao")
    reviewer = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    own = await seed.login(zhao)
    app_id = (await create(client, own, region_code=SHENNONGJIA, disease_code="HB-CRF-DIALYSIS",
                           hospital_code="SNJ-EX-0001", channel="hb_mp")).json()["id"]

    async def status() -> str:
        task = await read(client, own, f"Task/{app_id}")
        assert task["businessStatus"]["coding"][0]["code"] == (
            await client.get(f"/api/v1/applications/{app_id}", headers=own)).json()["status"]
        return str(task["status"])

    assert await status() == "draft"
    assert (await read(client, own, f"CoverageEligibilityRequest/{app_id}"))["status"] == "draft"
    await upload_all(client, own, app_id, HUBEI_MATERIALS)
    assert (await submit(client, own, app_id)).status_code == 200
    assert await status() == "requested"
    assert (await claim(client, reviewer, app_id)).status_code == 200
    assert await status() == "in-progress"
    returned = await decide(client, reviewer, app_id, "return", [{"code": "material_unclear"}])
    assert returned.status_code == 200
    assert await status() == "on-hold"
    task = await read(client, own, f"Task/{app_id}")
    assert task["statusReason"]["coding"][0]["code"] == "material_unclear"
    assert task["owner"]["display"] == "snj_reviewer"
    assert "end" not in task["executionPeriod"]  # returned: not over
    assert (await submit(client, own, app_id)).status_code == 200
    assert await status() == "requested"
    assert "owner" not in await read(client, own, f"Task/{app_id}")  # waiting for a reviewer again
    await claim(client, reviewer, app_id)
    await decide(client, reviewer, app_id, "reject", [{"code": "disease_not_in_catalog"}])
    assert await status() == "rejected"
    period = (await read(client, own, f"Task/{app_id}"))["executionPeriod"]
    assert period["start"] <= period["end"]  # from the first claim (round 1) to the rejection (round 2)
    condition = await read(client, own, f"Condition/{app_id}")
    assert condition["code"]["coding"][0]["system"] == "urn:mtb:catalog:429021:2025.1:disease"
    assert condition["verificationStatus"]["coding"][0]["code"] == "unconfirmed"

    draft = (await create(client, own, region_code=SHENNONGJIA, disease_code="HB-SMI",
                          hospital_code="SNJ-EX-0001", channel="hb_mp")).json()["id"]
    assert (await client.post(f"/api/v1/applications/{draft}/withdraw", headers=own)).status_code == 200
    assert (await read(client, own, f"Task/{draft}"))["status"] == "cancelled"
    assert (await read(client, own, f"CoverageEligibilityRequest/{draft}"))["status"] == "cancelled"
    assert (await read(client, own, f"CoverageEligibilityRequest/{app_id}"))["status"] == "active"
    assert set(TASK_STATUS.values()) == {"draft", "requested", "in-progress", "on-hold", "completed",
                                         "rejected", "cancelled"}


async def test_filing_dates_and_benefits(client: httpx.AsyncClient, seed: Seed, clock: Clock) -> None:
    clock.set("2025-03-03")
    await seed.catalogs()
    zhao = await seed.person("zhao")
    reviewer = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    admin_row = await seed.staff("snj_admin", StaffRole.admin, SHENNONGJIA)
    app_id, own = await submitted(client, seed, zhao, hubei=True, disease_code="HB-TUMOR")  # a 2-year period
    await approve(client, reviewer, app_id)
    async with seed.sessionmaker() as s, s.begin():
        q_id = (await s.execute(select(Qualification.id))).scalar_one()
        await s.execute(update(Qualification).values(benefits=[
            {"insurance_type": "resident", "reimbursement_ratio": 0.6, "annual_limit_yuan": 30000,
             "note": "按政策", "is_example": False},
            {"insurance_type": "resident", "reimbursement_ratio": 0.9, "note": "示例", "is_example": True}]))
    filing = await read(client, own, f"CoverageEligibilityResponse/{q_id}")
    insurance = filing["insurance"][0]
    assert insurance["benefitPeriod"] == {"start": "2025-03-03", "end": "2027-03-02"}
    assert insurance["inforce"] is True
    assert insurance["coverage"] == {"reference": f"Coverage/{zhao.row.id}"}
    assert filing["purpose"] == ["validation", "benefits"]
    policy, example = insurance["item"]
    assert policy["benefit"] == [{"type": {"text": "报销比例"}, "allowedString": "60%"},
                                 {"type": {"text": "年度支付限额"},
                                  "allowedMoney": {"value": 30000, "currency": "CNY"}}]
    assert example == {"category": policy["category"], "description": "示例"}  # an example value is not policy
    assert policy["category"]["coding"][0]["code"] == "HB-TUMOR"

    clock.set("2025-04-01")
    admin = await seed.staff_login(admin_row)
    own = await seed.login(zhao)
    revoked = await client.post(f"/api/v1/admin/qualifications/{q_id}/revoke", headers=admin,
                                json={"reason": "冒用"})
    assert revoked.status_code == 200, revoked.text
    filing = await read(client, own, f"CoverageEligibilityResponse/{q_id}")
    assert filing["status"] == "cancelled"
    assert filing["extension"][0]["valueCoding"]["code"] == "revoked"
    assert filing["insurance"][0]["inforce"] is False
    assert filing["insurance"][0]["benefitPeriod"] == {"start": "2025-03-03", "end": "2025-03-31"}


async def test_agent_others_and_staff_of_another_region(client: httpx.AsyncClient, seed: Seed) -> None:
    """An agent reads the application's resources but not the filing; someone else and the other region's
    staff get 404; staff reads are recorded in the application's history, a person's are not."""
    await seed.catalogs()
    zhang, wang, li = await seed.person("zhang"), await seed.person("wang"), await seed.person("li")
    reviewer_row = await seed.staff("bj_reviewer", StaffRole.reviewer)
    reviewer = await seed.staff_login(reviewer_row)
    other_region = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    agent = await seed.login(wang)
    app = await create(client, agent, **BEIJING_SELF,
                       beneficiary=zhang.credentials() | {"relation": "parent"})
    app_id = app.json()["id"]
    await upload_all(client, agent, app_id, BEIJING_MATERIALS)
    assert (await submit(client, agent, app_id)).status_code == 200
    await approve(client, reviewer, app_id)
    (q,) = (await client.get("/api/v1/qualifications", headers=await seed.login(zhang))).json()

    bundle = await read(client, agent, f"Task/{app_id}/$everything")
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "CoverageEligibilityResponse" not in types and types.count("DocumentReference") == 2
    task = bundle["entry"][0]["resource"]
    assert task["requester"] == {"type": "RelatedPerson", "display": "代办人（参保人的子女）"}  # wang for his parent
    assert "output" not in task  # it would point at the filing the agent may not read
    assert "output" not in await read(client, agent, f"Task/{app_id}")
    assert "output" in await read(client, await seed.login(zhang), f"Task/{app_id}")
    assert_private(json.dumps(bundle, ensure_ascii=False), zhang, wang)
    assert "王五" not in json.dumps(bundle, ensure_ascii=False)  # the agent is not named
    filing = await client.get(f"{FHIR}/CoverageEligibilityResponse/{q['id']}", headers=agent)
    assert filing.status_code == 404
    assert filing.json()["issue"][0]["details"]["coding"][0]["code"] == "qualification_not_found"
    assert (await read(client, agent, f"Patient/{zhang.row.id}"))["id"] == str(zhang.row.id)
    assert (await read(client, agent, f"Patient/{wang.row.id}"))["id"] == str(wang.row.id)  # themself
    material = next(e["resource"]["id"] for e in bundle["entry"]
                    if e["resource"]["resourceType"] == "DocumentReference")

    stranger = await seed.login(li)
    for headers in (stranger, other_region):
        for path in (f"Task/{app_id}", f"Task/{app_id}/$everything", f"Condition/{app_id}",
                     f"CoverageEligibilityRequest/{app_id}",
                     f"Patient/{zhang.row.id}", f"Coverage/{zhang.row.id}", f"DocumentReference/{material}",
                     f"CoverageEligibilityResponse/{q['id']}", f"Task/{uuid.uuid4()}"):
            response = await client.get(f"{FHIR}/{path}", headers=headers)
            assert response.status_code == 404, (path, response.text)
    assert (await client.get(f"{FHIR}/Task/{app_id}")).status_code == 401

    async def views() -> list[tuple[Any, ...]]:
        async with seed.sessionmaker() as s:
            return [(e.actor_id, (e.detail or {})["resource"]) for e in (await s.execute(
                select(ApplicationEvent).where(ApplicationEvent.action == "fhir_viewed")
                .order_by(ApplicationEvent.id))).scalars()]

    assert await views() == []  # the agent's and the beneficiary's reads are not audited
    await read(client, reviewer, f"Task/{app_id}/$everything")
    await read(client, reviewer, f"Patient/{zhang.row.id}")
    assert (await read(client, reviewer, f"CoverageEligibilityResponse/{q['id']}"))["id"] == q["id"]
    assert await views() == [(reviewer_row.id, "Bundle"), (reviewer_row.id, "Patient"),
                             (reviewer_row.id, "CoverageEligibilityResponse")]


def lines(path: Path) -> list[dict[str, Any]]:
    return [valid(json.loads(line)) for line in path.read_text("utf-8").splitlines()]


async def test_bulk_export_ndjson(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                  tmp_path: Path) -> None:
    clock.set("2025-03-03")
    await seed.catalogs()
    zhang, zhao = await seed.person("zhang"), await seed.person("zhao")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    admin_row = await seed.staff("bj_admin", StaffRole.admin)
    approved, own = await submitted(client, seed, zhang)
    await approve(client, reviewer, approved)
    draft = (await create(client, own, **BEIJING_SELF | {"disease_code": "BJ-HEMOPHILIA"})).json()["id"]
    hubei, _ = await submitted(client, seed, zhao, hubei=True)

    async def export(*args: str) -> dict[str, list[dict[str, Any]]]:
        out = tmp_path / uuid.uuid4().hex
        result = await anyio.to_thread.run_sync(
            lambda: runner.invoke(cli, ["export", "fhir", "--out", str(out), *args]))
        assert result.exit_code == 0, result.output
        files = {p.stem: lines(p) for p in out.glob("*.ndjson")}
        for kind, resources in files.items():
            assert f"{out / kind}.ndjson: {len(resources)} resources" in result.output
            assert all(r["resourceType"] == kind for r in resources)
        return files

    everything = await export()
    assert sorted(everything) == ["Condition", "Coverage", "CoverageEligibilityRequest",
                                  "CoverageEligibilityResponse", "DocumentReference", "Patient", "Task"]
    assert sorted(r["id"] for r in everything["CoverageEligibilityRequest"]) == sorted([approved, draft, hubei])
    assert sorted(t["id"] for t in everything["Task"]) == sorted([approved, draft, hubei])
    assert sorted(p["id"] for p in everything["Patient"]) == sorted([str(zhang.row.id), str(zhao.row.id)])
    assert len(everything["Coverage"]) == 2 and len(everything["CoverageEligibilityResponse"]) == 1
    assert len(everything["DocumentReference"]) == 2 + 5
    first_document = everything["DocumentReference"][0]["content"][0]["attachment"]
    assert first_document["url"].startswith("/api/v1/applications/")
    text = "".join(p.read_text("utf-8") for p in tmp_path.glob("*/*.ndjson"))
    assert_private(text, zhang, zhao)

    beijing = await export("--region", "110000", "--base-url", "https://mtb.example.cn/")
    assert sorted(t["id"] for t in beijing["Task"]) == sorted([approved, draft])
    assert [p["id"] for p in beijing["Patient"]] == [str(zhang.row.id)]
    assert beijing["DocumentReference"][0]["content"][0]["attachment"]["url"].startswith(
        "https://mtb.example.cn/api/v1/applications/")

    clock.set("2025-04-01")  # the filing is revoked: its application counts as changed, the others do not
    admin = await seed.staff_login(admin_row)
    (q,) = everything["CoverageEligibilityResponse"]
    assert (await client.post(f"/api/v1/admin/qualifications/{q['id']}/revoke", headers=admin,
                              json={"reason": "冒用"})).status_code == 200
    changed = await export("--since", "2025-03-15")
    assert [t["id"] for t in changed["Task"]] == [approved]
    assert changed["CoverageEligibilityResponse"][0]["status"] == "cancelled"
    assert [len(v) for v in (await export("--since", "2025-04-02")).values()] == [0] * 7

    bad = await anyio.to_thread.run_sync(lambda: runner.invoke(cli, ["export", "fhir", "--out", str(tmp_path),
                                                                     "--since", "yesterday"]))
    assert bad.exit_code == 2 and "--since: not a date" in bad.output


@pytest.mark.parametrize("resource_type", ["Patient", "Coverage", "Condition", "Task", "DocumentReference",
                                           "CoverageEligibilityRequest", "CoverageEligibilityResponse",
                                           "Bundle", "CapabilityStatement", "OperationOutcome"])
def test_the_validator_refuses_a_broken_resource(resource_type: str) -> None:
    """The check above can fail: a resource without its required elements is refused."""
    with pytest.raises(ValueError):
        valid({"resourceType": resource_type, "id": "x", "unknownElement": True})
