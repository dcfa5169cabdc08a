"""An eligibility question costs one log record: the request's access line (mtb/http/edge.py) names the hospital,
the masked ID number, the disease, the day and the answer, whatever the question's form (the deprecated
GET or the POST) and whatever the answer; the ID number a hospital sent is nowhere in any record."""

from __future__ import annotations

import logging
from datetime import date

import httpx
import pytest
from fastapi import Request
from fastapi.responses import PlainTextResponse

from mtb.http.edge import LOG_FIELDS
from mtb.identity import idnumber
from mtb.identity.models import StaffRole
from mtb.qualifications.keys import create_hospital_key
from tests.conftest import Clock
from tests.factories import Seed
from tests.qualifications.helpers import approve
from tests.review.helpers import submitted


async def ask(client: httpx.AsyncClient, key: str, how: str, **question: str) -> httpx.Response:
    if how == "get":
        return await client.get("/api/v1/eligibility", params=question, headers={"X-Api-Key": key})
    return await client.post("/api/v1/eligibility", json=question, headers={"X-Api-Key": key})


@pytest.mark.parametrize("how", ["get", "post"])
async def test_one_access_line_per_question_with_the_answer_and_no_id_number(
        client: httpx.AsyncClient, seed: Seed, clock: Clock, caplog: pytest.LogCaptureFixture, how: str) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    zhang, li = await seed.person("zhang"), await seed.person("li")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    app_id, _ = await submitted(client, seed, zhang, disease_code="BJ-TUMOR-CHEMO", hospital_code="BJ-EX-0001")
    await approve(client, reviewer, app_id)
    async with seed.sessionmaker() as s, s.begin():
        here = (await create_hospital_key(s, "BJ-EX-0001"))[1]
        elsewhere = (await create_hospital_key(s, "BJ-EX-0002"))[1]
    questions = [  # (key, id number as sent, disease, on) -> eligible, reason
        (here, zhang.id_number, "BJ-TUMOR-CHEMO", None, True, None),
        (here, zhang.id_number.lower(), "BJ-TUMOR-CHEMO", "2027-03-01", True, None),
        (here, zhang.id_number, "BJ-TUMOR-CHEMO", "2027-02-28", False, "not_yet_effective"),
        (elsewhere, zhang.id_number, "BJ-TUMOR-CHEMO", None, False, "no_filing"),
        (here, li.id_number, "BJ-TUMOR-CHEMO", None, False, "no_filing"),
        (here, zhang.id_number, "BJ-HEMOPHILIA", None, False, "no_filing"),
    ]
    for key, number, disease, on, eligible, reason in questions:
        question = {"id_number": number, "disease_code": disease, **({"on": on} if on else {})}
        caplog.clear()
        with caplog.at_level(logging.INFO):
            answer = await ask(client, key, how, **question)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["eligible"], answer.json()["reason"]) == (eligible, reason), question
        mine = [r for r in caplog.records if r.name.startswith("mtb")]
        assert [r.getMessage() for r in mine] == ["request"], [r.getMessage() for r in mine]
        line = mine[0].__dict__
        assert line["path"] == "/api/v1/eligibility" and line["status"] == 200
        assert (line["id_number"], line["disease"], line["eligible"], line["reason"]) == (
            idnumber.mask(idnumber.normalize(number)), disease, eligible, reason)
        assert line["hospital"] == ("BJ-EX-0001" if key == here else "BJ-EX-0002")
        assert line["on"] == (on or date(2027, 3, 1).isoformat())
        for record in mine:  # neither the number as sent nor its normalized form, in any field of MTB's
            text = str(record.__dict__)
            assert number not in text and idnumber.normalize(number) not in text


async def test_a_refused_question_is_one_plain_access_line(
        client: httpx.AsyncClient, seed: Seed, caplog: pytest.LogCaptureFixture) -> None:
    await seed.catalogs()
    async with seed.sessionmaker() as s, s.begin():
        key = (await create_hospital_key(s, "BJ-EX-0001"))[1]
    for headers, body, status in (({"X-Api-Key": key}, {"id_number": "110105198001019011", "disease_code": "BJ-TUMOR-CHEMO"}, 422),
                                  ({"X-Api-Key": "nope"}, {"id_number": "110105198001019010", "disease_code": "BJ-TUMOR-CHEMO"}, 401)):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            answer = await client.post("/api/v1/eligibility", json=body, headers=headers)
        assert answer.status_code == status, answer.text
        mine = [r for r in caplog.records if r.name.startswith("mtb")]
        assert [r.getMessage() for r in mine] == ["request"]
        assert "id_number" not in mine[0].__dict__  # nothing was answered about anybody
        assert all(body["id_number"] not in str(r.__dict__) for r in mine)


async def test_a_route_cannot_replace_the_access_lines_own_fields(client: httpx.AsyncClient,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A route's fields go beside the edge's (method, path, status, ms) and a record's own attributes, never
    in their place: a route cannot hide the real status, and a field named like `name` or `msg` is dropped
    instead of failing the log call."""
    app = client._transport.app  # type: ignore[attr-defined]

    async def noisy(request: Request) -> PlainTextResponse:
        setattr(request.state, LOG_FIELDS, {"status": 200, "path": "/elsewhere", "msg": "x", "name": "y",
                                            "args": (1,), "note": "kept"})
        return PlainTextResponse("no", status_code=418)

    app.add_api_route("/test-noisy-log", noisy, methods=["GET"])
    app.router.routes.insert(0, app.router.routes.pop())  # before the pages' catch-all routes
    caplog.clear()
    with caplog.at_level(logging.INFO):
        answer = await client.get("/test-noisy-log")
    assert answer.status_code == 418
    line = [r for r in caplog.records if r.name == "mtb.app" and r.getMessage() == "request"]
    assert len(line) == 1
    assert (line[0].status, line[0].path, line[0].note, line[0].name) == (  # type: ignore[attr-defined]
        418, "/test-noisy-log", "kept", "mtb.app")
