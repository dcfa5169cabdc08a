"""The whole loop driven through a client generated from /openapi.json, as a channel app's or a
hospital's developer would: real-name login, create, upload both materials, submit with an
Idempotency-Key (and again: the same answer), claim, return with a reason, replace the material,
resubmit, approve, and the hospital's eligibility check.

Every answer is parsed by the generated models: a field MTB sends that the schema does not declare would
land in `additional_properties` (checked empty everywhere), an undeclared status would come back
unparsed, and a declared type that is wrong would fail to parse. The generator must print no warning.
The test calls operations by name, so routes added later do not disturb it.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mtb.identity.models import StaffRole
from mtb.qualifications.keys import create_hospital_key
from tests.client.generated import Generated, generate, module
from tests.factories import Seed
from tests.files import document_photo, pdf


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/openapi.json")).json()


@pytest.fixture
def generated(document: dict[str, Any]) -> Generated:
    return generate(document)


def listed(document: dict[str, Any], method: str, path: str, response: Any) -> str:
    """The error code of a refusal, checked to be among those its operation lists for that status."""
    code = response.parsed.error
    answer = document["paths"][path][method]["responses"][str(int(response.status_code))]
    assert code in answer["x-mtb-error-codes"], (method, path, response.status_code, code)
    return str(code)


def walk(value: Any) -> Iterator[Any]:
    """Every generated model object inside a parsed answer."""
    if hasattr(value, "additional_properties"):
        yield value
        for name in getattr(type(value), "__attrs_attrs__", ()):
            yield from walk(getattr(value, name.name))
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def parsed(response: Any, status: int, model: type) -> Any:
    """The answer's parsed body: the expected status, the expected model, nothing undeclared in it."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.parsed
    assert isinstance(body, model), (type(body), response.content[:500])
    for item in walk(body):
        declared = [a.name for a in type(item).__attrs_attrs__ if a.name != "additional_properties"]
        if declared:  # a model with fields; one without is a map by declaration (an event's `detail`)
            assert item.additional_properties == {}, (type(item).__name__, item.additional_properties)
    return body


async def test_the_generator_finds_nothing_to_complain_about(generated: Generated) -> None:
    assert "Warning" not in generated.log and "Unable" not in generated.log, generated.log
    print(f"generated client: {generated.files} files, {generated.size} bytes in {generated.folder}")


async def test_the_whole_loop_through_the_generated_client(app_and_client: tuple[Any, httpx.AsyncClient],
                                                           generated: Generated, document: dict[str, Any],
                                                           seed: Seed) -> None:
    app, _ = app_and_client
    c = generated.package
    models = module(generated, "models")
    types = module(generated, "types")
    await seed.catalogs()
    zhang = await seed.person("zhang")
    await seed.staff("bj_reviewer", StaffRole.reviewer)
    async with seed.sessionmaker() as s, s.begin():
        _row, hospital_key = await create_hospital_key(s, "BJ-EX-0001")

    def transport() -> dict[str, Any]:
        return {"transport": httpx.ASGITransport(app=app, client=("198.51.100.9", 50000))}

    anonymous = c.Client(base_url="http://mtb.test", httpx_args=transport())

    # The insured person logs in by real name and applies.
    login = module(generated, "api.auth.real_name_login")
    token = parsed(await login.asyncio_detailed(client=anonymous, body=models.RealNameLogin(
        name=zhang.name, id_number=zhang.id_number, card_number=zhang.card_number)), 200, models.PersonToken)
    person = c.AuthenticatedClient(base_url="http://mtb.test", token=token.access_token, httpx_args=transport())
    refused = await login.asyncio_detailed(client=anonymous, body=models.RealNameLogin(
        name=zhang.name, id_number=zhang.id_number, card_number="C00000000"))
    parsed(refused, 401, models.ErrorOut)
    assert listed(document, "post", "/api/v1/auth/real-name", refused) == "invalid_credentials"

    create = module(generated, "api.applications.create")
    app_out = parsed(await create.asyncio_detailed(client=person, body=models.ApplicationCreate(
        region_code="110000", disease_code="BJ-TUMOR-CHEMO", hospital_code="BJ-EX-0001", channel="bj_app")),
        201, models.ApplicationOut)
    assert app_out.status == models.ApplicationStatus.DRAFT
    app_id = app_out.id
    required = [item.kind for item in app_out.checklist if item.required and not item.generated]
    assert sorted(required) == ["diagnosis_certificate", "filing_form"]

    upload = module(generated, "api.materials.upload")
    materials = {}
    for i, kind in enumerate(required):
        content, name, mime = ((document_photo(seed=i), f"{kind}.jpg", "image/jpeg") if i == 0
                               else (pdf(2), f"{kind}.pdf", "application/pdf"))
        material = parsed(await upload.asyncio_detailed(app_id, client=person, body=models.BodyUpload(
            kind=kind, file=types.File(payload=io.BytesIO(content), file_name=name, mime_type=mime))),
            201, models.MaterialOut)
        assert (material.kind, material.size) == (kind, len(content))
        materials[kind] = material

    submit = module(generated, "api.applications.submit_application")
    key = str(uuid.uuid4())
    first = parsed(await submit.asyncio_detailed(app_id, client=person, body=models.SubmitIn(), idempotency_key=key), 200,
                   models.ApplicationOut)
    again = parsed(await submit.asyncio_detailed(app_id, client=person, body=models.SubmitIn(), idempotency_key=key), 200,
                   models.ApplicationOut)
    assert first.status == again.status == models.ApplicationStatus.SUBMITTED
    assert first.case_number and again.case_number == first.case_number
    conflict = await submit.asyncio_detailed(app_id, client=person, body=models.SubmitIn(), idempotency_key=str(uuid.uuid4()))
    parsed(conflict, 409, models.ErrorOut)
    assert listed(document, "post", "/api/v1/applications/{application_id}/submit", conflict)

    # A reviewer claims it and returns it with a reason.
    staff_login = module(generated, "api.auth.staff_login")
    staff_token = parsed(await staff_login.asyncio_detailed(client=anonymous, body=models.StaffLogin(
        username="bj_reviewer", password="correct horse battery")), 200, models.StaffToken)
    reviewer = c.AuthenticatedClient(base_url="http://mtb.test", token=staff_token.access_token,
                                     httpx_args=transport())
    queue = parsed(await module(generated, "api.review.queue").asyncio_detailed(client=reviewer), 200,
                   models.QueuePage)
    assert [item.id for item in queue.items] == [app_id]
    claim = module(generated, "api.review.claim_application")
    parsed(await claim.asyncio_detailed(app_id, client=reviewer), 200, models.ApplicationOut)
    decide = module(generated, "api.review.decide_application")
    returned = parsed(await decide.asyncio_detailed(app_id, client=reviewer, body=models.DecisionIn(
        outcome=models.DecisionOutcome.RETURN,
        reasons=[models.ReasonIn(code="material_unclear", detail="诊断证明拍摄反光，请重新拍摄")])),
        200, models.ApplicationOut)
    assert returned.status == models.ApplicationStatus.RETURNED

    # The person sees why, replaces the certificate and submits again.
    read = module(generated, "api.applications.read")
    seen = parsed(await read.asyncio_detailed(app_id, client=person), 200, models.ApplicationOut)
    assert seen.status == models.ApplicationStatus.RETURNED
    assert "诊断证明拍摄反光" in str(seen.to_dict())
    replace = module(generated, "api.materials.replace")
    old = materials["diagnosis_certificate"]
    new = parsed(await replace.asyncio_detailed(app_id, old.id, client=person, body=models.BodyReplace(
        file=types.File(payload=io.BytesIO(document_photo(seed=9)), file_name="again.jpg",
                        mime_type="image/jpeg"))), 200, models.MaterialOut)
    assert new.sha256 != old.sha256
    resubmitted = parsed(await submit.asyncio_detailed(app_id, client=person, body=models.SubmitIn(), idempotency_key=str(uuid.uuid4())),
                         200, models.ApplicationOut)
    assert resubmitted.status == models.ApplicationStatus.SUBMITTED

    # Approved in the second round: the person holds a filing.
    parsed(await claim.asyncio_detailed(app_id, client=reviewer), 200, models.ApplicationOut)
    unmarked = await decide.asyncio_detailed(app_id, client=reviewer, body=models.DecisionIn(
        outcome=models.DecisionOutcome.APPROVE))
    parsed(unmarked, 409, models.ErrorOut)  # the approval guard: every required material marked first
    assert listed(document, "post", "/api/v1/review/applications/{application_id}/decision",
                  unmarked) == "materials_unmarked"
    assert len(unmarked.parsed.materials) == 2
    approved = parsed(await decide.asyncio_detailed(app_id, client=reviewer, body=models.DecisionIn(
        outcome=models.DecisionOutcome.APPROVE, all_acceptable=True)), 200, models.ApplicationOut)
    assert approved.status == models.ApplicationStatus.APPROVED
    filings = parsed(await module(generated, "api.qualifications.my_qualifications").asyncio_detailed(
        client=person), 200, list)
    assert [f.status for f in filings] == [models.FilingStatus.ACTIVE]

    # The hospital asks whether the person holds a filing there.
    hospital = c.Client(base_url="http://mtb.test", httpx_args=transport())
    ask = module(generated, "api.eligibility.ask_eligibility")
    answer = parsed(await ask.asyncio_detailed(client=hospital, x_api_key=hospital_key, body=models.EligibilityQuery(
        id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO", hospital_code="BJ-EX-0001")),
        200, models.EligibilityOut)
    assert answer.eligible is True and answer.qualification.disease_code == "BJ-TUMOR-CHEMO"
    other = parsed(await ask.asyncio_detailed(client=hospital, x_api_key=hospital_key, body=models.EligibilityQuery(
        id_number=zhang.id_number, disease_code="BJ-HEMOPHILIA")), 200, models.EligibilityOut)
    assert other.eligible is False and other.reason == models.EligibilityReason.NO_FILING
    deprecated = await module(generated, "api.eligibility.eligibility").asyncio_detailed(
        client=hospital, x_api_key=hospital_key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO")
    assert parsed(deprecated, 200, models.EligibilityOut).eligible is True  # the deprecated GET still answers
    assert deprecated.headers["sunset"] and 'rel="successor-version"' in deprecated.headers["link"]
    unknown = await read.asyncio_detailed(uuid.uuid4(), client=person)
    parsed(unknown, 404, models.ErrorOut)
    assert listed(document, "get", "/api/v1/applications/{application_id}", unknown) == "application_not_found"
    unauthenticated = await read.asyncio_detailed(app_id, client=anonymous)  # type: ignore[arg-type]
    parsed(unauthenticated, 401, models.ErrorOut)
    assert listed(document, "get", "/api/v1/applications/{application_id}", unauthenticated) == "not_authenticated"
