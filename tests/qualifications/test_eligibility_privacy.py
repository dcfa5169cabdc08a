"""Issue 16 item 7: a hospital is answered only what it needs, no faster than its key may ask, and may ask
without putting the ID number in a URL.

- For a person holding filings at different hospitals (one since changed to another hospital), every
  hospital of the region asks about every disease of the catalog on several days, by GET and by POST:
  no answer names another hospital or another disease, and where the asking hospital holds no filing of
  the person for that disease, the answer is exactly the answer about a person with no filing at all.
- GET and POST answer the same; GET says it is deprecated.
- A key past MTB_ELIGIBILITY_PER_MINUTE gets 429 `rate_limited` with Retry-After, whatever the method;
  other keys are not slowed; unknown keys are limited too; the bucket refills with time.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mtb.identity.models import StaffRole
from mtb.qualifications.keys import create_hospital_key
from tests.apps import app_with
from tests.conftest import Clock
from tests.factories import ACTORS, Seed, reference_catalogs
from tests.qualifications.helpers import approve
from tests.review.helpers import submitted

DAYS = ("2027-02-20", "2027-03-05", "2027-06-20", "2030-01-01")


async def ask(client: httpx.AsyncClient, key: str, method: str, **question: str) -> httpx.Response:
    if method == "GET":
        return await client.get("/api/v1/eligibility", params=question, headers={"X-Api-Key": key})
    return await client.post("/api/v1/eligibility", json=question, headers={"X-Api-Key": key})


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    return answer | {"qualification": None} if answer["qualification"] is None else answer


async def test_a_hospital_learns_nothing_of_other_hospitals_or_diseases(client: httpx.AsyncClient, seed: Seed,
                                                                        clock: Clock) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    zhang, li = await seed.person("zhang"), await seed.person("li")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    for disease, hospital in (("BJ-TUMOR-CHEMO", "BJ-EX-0001"), ("BJ-HEMOPHILIA", "BJ-EX-0002")):
        app_id, _ = await submitted(client, seed, zhang, disease_code=disease, hospital_code=hospital)
        await approve(client, reviewer, app_id)
    doc = next(c.document for c in reference_catalogs() if c.document.region.code == "110000")
    hospitals = [h.code for h in doc.hospitals]
    keys = {}
    async with seed.sessionmaker() as s, s.begin():
        for code in hospitals:
            keys[code] = (await create_hospital_key(s, code))[1]
    names = {h.code: h.name for h in doc.hospitals}
    diseases = {d.code: d.name for d in doc.diseases}
    held = {"BJ-TUMOR-CHEMO": "BJ-EX-0001", "BJ-HEMOPHILIA": "BJ-EX-0002"}
    asked = 0
    for hospital, key in keys.items():
        for disease in diseases:
            for day in DAYS:
                for method in ("GET", "POST"):
                    answer = await ask(client, key, method, id_number=zhang.id_number, disease_code=disease, on=day)
                    assert answer.status_code == 200, answer.text
                    text = answer.text
                    others = [n for c, n in names.items() if c != hospital] + [
                        c for c in names if c != hospital]
                    assert not any(o in text for o in others), (hospital, disease, text)
                    assert not any(o in text for c, n in diseases.items() if c != disease for o in (c, n)), text
                    if held.get(disease) != hospital:  # indistinguishable from someone with no filing
                        nobody = await ask(client, key, method, id_number=li.id_number, disease_code=disease,
                                           on=day)
                        assert comparable(answer.json()) == comparable(nobody.json()), (hospital, disease, day)
                        assert answer.json()["reason"] == "no_filing"
                    asked += 1
    assert asked == len(keys) * len(diseases) * len(DAYS) * 2
    # The designated hospital, the day it covers: yes, with what it needs to settle.
    yes = (await ask(client, keys["BJ-EX-0002"], "POST", id_number=zhang.id_number, disease_code="BJ-HEMOPHILIA",
                     on="2027-03-05")).json()
    assert yes["eligible"] is True and yes["qualification"]["hospital_code"] == "BJ-EX-0002"
    assert "hospital_name" not in yes["qualification"]
    # Asking on behalf of another hospital is refused (it would find the designated one by trying each).
    behalf = await ask(client, keys["BJ-EX-0003"], "POST", id_number=zhang.id_number, disease_code="BJ-HEMOPHILIA",
                       hospital_code="BJ-EX-0002")
    assert behalf.status_code == 403 and behalf.json()["error"] == "hospital_not_yours"


async def test_get_and_post_answer_the_same_and_get_is_deprecated(client: httpx.AsyncClient, seed: Seed,
                                                                  clock: Clock) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    app_id, _ = await submitted(client, seed, zhang)
    await approve(client, reviewer, app_id)
    async with seed.sessionmaker() as s, s.begin():
        key = (await create_hospital_key(s, "BJ-EX-0001"))[1]
    for question in ({"id_number": zhang.id_number, "disease_code": "BJ-TUMOR-CHEMO"},
                     {"id_number": zhang.id_number, "disease_code": "BJ-TUMOR-CHEMO", "on": "2027-02-01"},
                     {"id_number": zhang.id_number, "disease_code": "BJ-MS", "hospital_code": "BJ-EX-0001"},
                     {"id_number": "110105198001019011", "disease_code": "BJ-TUMOR-CHEMO"}):
        got, posted = await ask(client, key, "GET", **question), await ask(client, key, "POST", **question)
        assert (got.status_code, got.json()) == (posted.status_code, posted.json())
        if got.status_code == 200:
            assert got.headers["deprecation"].startswith("@") and "deprecation" not in posted.headers
    missing = await client.post("/api/v1/eligibility", json={"id_number": zhang.id_number},
                                headers={"X-Api-Key": key})
    assert missing.status_code == 422 and missing.json()["error"] == "invalid_request"
    openapi = (await client.get("/openapi.json")).json()["paths"]["/api/v1/eligibility"]
    assert openapi["get"].get("deprecated") is True and not openapi["post"].get("deprecated")


@pytest.mark.parametrize("hot_paths", ["true", "false"])
async def test_each_key_is_rate_limited(seed: Seed, monkeypatch: pytest.MonkeyPatch, clock: Clock,
                                        hot_paths: str) -> None:
    clock.set("2027-03-01")
    async with app_with(monkeypatch, MTB_ELIGIBILITY_PER_MINUTE="3", MTB_HOT_PATHS=hot_paths) as s:
        await s.catalogs()
        async with s.sessionmaker() as session, session.begin():
            busy = (await create_hospital_key(session, "BJ-EX-0001"))[1]
            calm = (await create_hospital_key(session, "BJ-EX-0002"))[1]
        number = "1101051980010190" + ACTORS["zhang"][1][-1] + "0"
        question = {"id_number": number, "disease_code": "BJ-TUMOR-CHEMO"}
        for method in ("GET", "POST", "GET"):
            assert (await ask(s.client, busy, method, **question)).status_code in (200, 422)
        for method in ("GET", "POST"):
            refused = await ask(s.client, busy, method, **question)
            assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
            assert int(refused.headers["Retry-After"]) >= 1
        assert (await ask(s.client, calm, "POST", **question)).status_code in (200, 422)
        for _ in range(3):
            await ask(s.client, "mtbh_guessed-key", "POST", **question)
        guessed = await ask(s.client, "mtbh_guessed-key", "POST", **question)
        assert guessed.status_code == 429
        clock.set("2027-03-01", hour=11)  # an hour on: the bucket is full again
        assert (await ask(s.client, busy, "POST", **question)).status_code in (200, 422)
