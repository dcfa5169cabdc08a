"""The FHIR server around the resources: its CapabilityStatement, its refusals as OperationOutcome, and
references that resolve — in every bundle a reader gets (owner, agent, staff; drafts, returns, filings)
and across the bulk export."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from typer.testing import CliRunner

from mtb.cli import app as cli
from mtb.identity.models import StaffRole
from mtb.interop.capability import READABLE
from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, submit, upload_all
from tests.factories import SHENNONGJIA, Seed
from tests.interop.test_fhir import FHIR, lines, read, valid
from tests.qualifications.helpers import approve
from tests.review.helpers import claim, decide, submitted

runner = CliRunner()


def references(value: Any) -> Iterator[str]:
    """Every literal reference (`Type/id`) in a resource, at any depth."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def assert_bundle_closed(bundle: dict[str, Any]) -> None:
    """Every reference made by an entry names another entry of the same bundle."""
    present = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    for entry in bundle["entry"]:
        assert entry["fullUrl"].endswith("/" + f"{entry['resource']['resourceType']}/{entry['resource']['id']}")
        dangling = set(references(entry["resource"])) - present
        assert not dangling, (entry["resource"]["resourceType"], dangling)


def assert_outcome(response: httpx.Response, status: int, code: str, issue_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    outcome = valid(response.json())
    assert outcome["resourceType"] == "OperationOutcome"
    first = outcome["issue"][0]
    assert (first["severity"], first["code"]) == ("error", issue_type)
    assert first["details"]["coding"] == [{"system": "urn:mtb:error", "code": code}]
    assert first["details"]["text"]  # the sentence a person reads
    return outcome


async def test_capability_statement_declares_what_is_served(client: httpx.AsyncClient, seed: Seed) -> None:
    response = await client.get(f"{FHIR}/metadata")  # no login: a client discovers the server first
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    statement = valid(response.json())
    assert (statement["fhirVersion"], statement["kind"], statement["status"]) == ("4.0.1", "instance", "active")
    assert statement["implementation"]["url"] == f"http://mtb.test{FHIR}"
    assert "application/fhir+json" in statement["format"]
    (rest,) = statement["rest"]
    declared = {r["type"]: r for r in rest["resource"]}
    assert set(declared) == set(READABLE)
    assert all(r["interaction"] == [{"code": "read"}] for r in declared.values())
    assert [op["name"] for op in declared["Task"]["operation"]] == ["everything"]

    # Every declared type is read at its route, and nothing else is offered.
    await seed.catalogs()
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    zhang = await seed.person("zhang")
    app_id, own = await submitted(client, seed, zhang)
    await approve(client, reviewer, app_id)
    bundle = await read(client, own, f"Task/{app_id}/$everything")
    served = {e["resource"]["resourceType"]: e["resource"]["id"] for e in bundle["entry"]}
    assert set(served) == set(declared)
    for kind, resource_id in served.items():
        assert (await read(client, own, f"{kind}/{resource_id}"))["id"] == resource_id
    paths = (await client.get("/openapi.json")).json()["paths"]
    fhir_types = {p.removeprefix(FHIR + "/").split("/")[0] for p in paths if p.startswith(FHIR + "/")}
    assert fhir_types == set(declared) | {"metadata"}


async def test_refusals_are_operation_outcomes(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    own = await seed.login(zhang)
    missing = uuid.uuid4()
    for kind, code in (("Task", "application_not_found"), ("Condition", "application_not_found"),
                       ("CoverageEligibilityRequest", "application_not_found"),
                       ("Task/{id}/$everything", "application_not_found"), ("Patient", "person_not_found"),
                       ("Coverage", "person_not_found"), ("DocumentReference", "document_not_found"),
                       ("CoverageEligibilityResponse", "qualification_not_found")):
        path = kind.format(id=missing) if "{id}" in kind else f"{kind}/{missing}"
        assert_outcome(await client.get(f"{FHIR}/{path}", headers=own), 404, code, "not-found")
        unauthenticated = await client.get(f"{FHIR}/{path}")
        assert_outcome(unauthenticated, 401, "not_authenticated", "login")
        malformed = assert_outcome(await client.get(f"{FHIR}/{path.replace(str(missing), 'not-a-uuid')}",
                                                    headers=own), 422, "invalid_request", "invalid")
        assert any("application_id" in i.get("diagnostics", "") or "_id" in i.get("diagnostics", "")
                   for i in malformed["issue"][1:])
    assert_outcome(await client.get(f"{FHIR}/Observation/{missing}", headers=own), 404, "not_found", "not-found")
    assert_outcome(await client.post(f"{FHIR}/Task/{missing}", headers=own), 405, "method_not_allowed",
                   "not-supported")
    expired = {"Authorization": "Bearer not.a.token"}
    assert_outcome(await client.get(f"{FHIR}/Task/{missing}", headers=expired), 401, "token_invalid", "login")
    # The rest of the API keeps MTB's one error format.
    plain = await client.get(f"/api/v1/applications/{missing}", headers=own)
    assert plain.status_code == 404 and plain.json()["error"] == "application_not_found"


@pytest.mark.parametrize("stage", ["draft", "returned", "approved"])
async def test_every_bundle_is_closed_for_every_reader(client: httpx.AsyncClient, seed: Seed,
                                                       stage: str) -> None:
    """No entry points at a resource the bundle leaves out: for the applicant, an agent, the
    beneficiary and a reviewer, at each stage."""
    await seed.catalogs()
    zhang, wang = await seed.person("zhang"), await seed.person("wang")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    agent = await seed.login(wang)
    for headers, payload in ((await seed.login(zhang), BEIJING_SELF),
                             (agent, BEIJING_SELF | {"beneficiary": zhang.credentials() | {"relation": "parent"},
                                                     "disease_code": "BJ-HEMOPHILIA"})):
        app_id = (await create(client, headers, **payload)).json()["id"]
        if stage != "draft":
            await upload_all(client, headers, app_id, BEIJING_MATERIALS)
            assert (await submit(client, headers, app_id)).status_code == 200
        if stage == "returned":
            await claim(client, reviewer, app_id)
            assert (await decide(client, reviewer, app_id, "return", [{"code": "material_unclear"}])).status_code == 200
        if stage == "approved":
            await approve(client, reviewer, app_id)
        for reader in (headers, await seed.login(zhang), reviewer):
            bundle = await read(client, reader, f"Task/{app_id}/$everything")
            assert_bundle_closed(bundle)
            kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
            filing_expected = stage == "approved" and reader is not agent
            assert ("CoverageEligibilityResponse" in kinds) == filing_expected
            assert ("output" in bundle["entry"][0]["resource"]) == filing_expected


async def test_bulk_export_references_resolve(client: httpx.AsyncClient, seed: Seed, tmp_path: Path) -> None:
    await seed.catalogs()
    zhang, zhao = await seed.person("zhang"), await seed.person("zhao")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    snj = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    approved, own = await submitted(client, seed, zhang)
    await approve(client, reviewer, approved)
    await create(client, own, **BEIJING_SELF | {"disease_code": "BJ-HEMOPHILIA"})
    hubei, _ = await submitted(client, seed, zhao, hubei=True)
    await approve(client, snj, hubei)

    out = tmp_path / "fhir"
    result = await anyio.to_thread.run_sync(lambda: runner.invoke(cli, ["export", "fhir", "--out", str(out)]))
    assert result.exit_code == 0, result.output
    exported = [r for p in out.glob("*.ndjson") for r in lines(p)]
    present = {f"{r['resourceType']}/{r['id']}" for r in exported}
    assert {r["resourceType"] for r in exported} == set(READABLE)
    for resource in exported:
        assert not set(references(resource)) - present, resource["resourceType"]
