"""The applicant's status read (the direct reader, mtb/direct/applications.py) against the session path
(the staff's full read through the ORM) on the same data: every field the status answer has is the
full read's, in every state an application can be in, and whoever may not see an application gets the
same answer from both (issue 18: a change to a column or to the access rule changes both)."""

from __future__ import annotations

from typing import Any

import httpx

from mtb.applications.schemas import ApplicationStatusOut
from mtb.identity.models import StaffRole
from tests.applications.helpers import BEIJING_SELF, create
from tests.factories import Seed
from tests.review.helpers import claim, decide, submitted

STATUS_FIELDS = list(ApplicationStatusOut.model_fields)
BEIJING = "110000"


def _projection(full: dict[str, Any]) -> dict[str, Any]:
    return {k: full[k] for k in STATUS_FIELDS}


async def test_the_status_read_is_the_session_reads_status_in_every_state(client: httpx.AsyncClient,
                                                                           seed: Seed) -> None:
    await seed.catalogs()
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer, BEIJING))
    cases: list[tuple[str, str, dict[str, str]]] = []  # (state, id, the applicant's headers)

    zhang = await seed.person("zhang")
    zh = await seed.login(zhang)
    draft = await create(client, zh, **BEIJING_SELF)
    cases.append(("draft", draft.json()["id"], zh))

    li = await seed.person("li")
    app_id, lh = await submitted(client, seed, li)
    cases.append(("submitted", app_id, lh))

    wang = await seed.person("wang")
    in_review, wh = await submitted(client, seed, wang)
    assert (await claim(client, reviewer, in_review)).status_code == 200
    cases.append(("in_review", in_review, wh))

    for name, outcome, reasons in (("返回人", "return", [{"code": "material_unclear", "detail": "公章看不清"}]),
                                   ("批准人", "approve", []),
                                   ("不予人", "reject", [{"code": "other", "detail": "不符合条件"}])):
        person = await seed.person(name=name)
        decided, headers = await submitted(client, seed, person)
        assert (await claim(client, reviewer, decided)).status_code == 200
        full = (await client.get(f"/api/v1/applications/{decided}", headers=reviewer)).json()
        marks = [{"material_id": m["id"], "verdict": "acceptable"} for m in full["materials"]]
        answer = await decide(client, reviewer, decided, outcome, reasons, materials=marks)
        assert answer.status_code == 200, answer.text
        cases.append((outcome, decided, headers))

    person = await seed.person(name="撤回人")
    withdrawn, headers = await submitted(client, seed, person)
    assert (await client.post(f"/api/v1/applications/{withdrawn}/withdraw", headers=headers)).status_code == 200
    cases.append(("withdrawn", withdrawn, headers))

    seen = set()
    for state, app_id, headers in cases:
        direct = await client.get(f"/api/v1/applications/{app_id}/status", headers=headers)
        session = await client.get(f"/api/v1/applications/{app_id}", headers=reviewer)
        if state == "draft":  # staff do not see drafts: the session read is the applicant's own list
            listed = await client.get("/api/v1/applications", headers=headers)
            assert direct.status_code == 200 and listed.status_code == 200
            assert direct.json()["status"] == "draft"
            continue
        assert direct.status_code == session.status_code == 200, (state, direct.text, session.text)
        assert direct.json() == _projection(session.json()), state
        seen.add(direct.json()["status"])
    assert seen == {"submitted", "in_review", "returned", "approved", "rejected", "withdrawn"}


async def test_who_may_not_see_gets_the_same_answer_from_both(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    app_id, _ = await submitted(client, seed, zhang)
    stranger = await seed.login(await seed.person("li"))
    for path in (f"/api/v1/applications/{app_id}/status", f"/api/v1/applications/{app_id}"):
        answer = await client.get(path, headers=stranger)
        assert answer.status_code == 404 and answer.json()["error"] == "application_not_found", path
    missing = "00000000-0000-4000-8000-000000000000"
    for path in (f"/api/v1/applications/{missing}/status", f"/api/v1/applications/{missing}"):
        answer = await client.get(path, headers=stranger)
        assert answer.status_code == 404 and answer.json()["error"] == "application_not_found", path
    own = await seed.login(zhang)
    assert (await client.post("/api/v1/auth/logout", headers=own)).status_code in (200, 204)
    for path in (f"/api/v1/applications/{app_id}/status", f"/api/v1/applications/{app_id}"):
        answer = await client.get(path, headers=own)
        assert answer.status_code == 401, (path, answer.text)
