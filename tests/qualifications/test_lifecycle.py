"""The calendar of a filing with the clock stopped: approve, remind at 60/30/7 days, renew before expiry
and continue without a gap; let another expire; change hospital; revoke. And the hospitals' question.

domain.md After approval: "A filing can be changed online, for example to another designated hospital";
"The qualification is not permanent: some diseases have a fixed re-review period ... at its end the
person applies again or is re-reviewed, so that the benefit continues".
"""

from __future__ import annotations

import logging

import httpx
import pytest
from typer.testing import CliRunner

from mtb import jobs
from mtb.cli import app as cli
from mtb.identity.models import StaffRole
from mtb.qualifications.keys import create_hospital_key
from mtb.settings import Settings
from tests.applications.helpers import BEIJING_SELF, HUBEI_MATERIALS, create, submit, upload_all
from tests.conftest import Clock
from tests.factories import SHENNONGJIA, Seed
from tests.qualifications.helpers import approve, eligible, submit_followup
from tests.review.helpers import submitted


async def run_jobs(_client: httpx.AsyncClient, seed: Seed, settings: Settings) -> tuple[int, int, int]:
    # The pre-review's OCR is not what these tests are about (tests/prereview): it would read every upload.
    report = await jobs.run_jobs(seed.sessionmaker, settings.model_copy(update={"prereview_enabled": False}))
    return report.expired, report.claims_released, report.reminders


async def make_key(seed: Seed, hospital: str) -> str:
    async with seed.sessionmaker() as s, s.begin():
        _row, key = await create_hospital_key(s, hospital)
    return key


async def test_remind_renew_and_continue_without_a_gap(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                                       settings: Settings) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    zhao = await seed.person("zhao")
    reviewer_row = await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA)
    reviewer = await seed.staff_login(reviewer_row)
    key = await make_key(seed, "SNJ-EX-0001")
    app_id, zh = await submitted(client, seed, zhao, hubei=True, disease_code="HB-TUMOR")  # 2-year period (example)
    await approve(client, reviewer, app_id)
    (q,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
    assert (q["effective_from"], q["valid_until"], q["status"]) == ("2027-03-01", "2029-02-28", "active")
    assert (q["renewal_opens_on"], q["renewal_closes_on"]) == ("2028-12-30", "2029-03-30")

    early = await client.post(f"/api/v1/qualifications/{q['id']}/renew", headers=zh)
    assert early.status_code == 409 and early.json()["error"] == "renewal_not_open"
    assert early.json()["opens_on"] == "2028-12-30"

    clock.set("2028-12-30")  # 60 days before the last day
    zh = await seed.login(zhao)  # a new day, a new login
    reviewer = await seed.staff_login(reviewer_row)
    assert await run_jobs(client, seed, settings) == (0, 0, 1)
    assert await run_jobs(client, seed, settings) == (0, 0, 0)  # idempotent: nothing twice
    (q,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
    assert q["status"] == "expiring_soon"
    clock.set("2029-01-29")  # 30 days
    zh = await seed.login(zhao)  # a new day, a new login
    reviewer = await seed.staff_login(reviewer_row)
    assert await run_jobs(client, seed, settings) == (0, 0, 1)
    reminders = [m for m in (await client.get("/api/v1/notifications", headers=zh)).json()
                 if m["kind"] == "qualification_expiring"]
    assert [m["title"] for m in reminders] == ["备案将在 30 天后到期", "备案将在 60 天后到期"]

    renewal = await client.post(f"/api/v1/qualifications/{q['id']}/renew", headers=zh)
    assert renewal.status_code == 201, renewal.text
    assert renewal.json()["kind"] == "renewal" and renewal.json()["qualification_id"] == q["id"]
    await submit_followup(client, zh, renewal.json(), hubei=True)
    clock.set("2029-01-30")
    zh = await seed.login(zhao)  # a new day, a new login
    reviewer = await seed.staff_login(reviewer_row)
    await approve(client, reviewer, renewal.json()["id"])

    rows = {r["id"]: r for r in (await client.get("/api/v1/qualifications", headers=zh)).json()}
    old, new = rows[q["id"]], next(r for r in rows.values() if r["id"] != q["id"])
    assert old["status"] == "replaced" and old["replaced_by"] == new["id"]
    assert (new["effective_from"], new["valid_until"]) == ("2029-03-01", "2031-02-28")
    assert [h["action"] for h in old["history"]] == ["granted", "reminded", "reminded", "replaced"]
    for day in ("2029-02-28", "2029-03-01"):  # the last day of the old one, the first of the new one
        answer = (await eligible(client, key, id_number=zhao.id_number, disease_code="HB-TUMOR", on=day)).json()
        assert answer["eligible"] is True, (day, answer)
    assert answer["qualification"]["id"] == new["id"]
    assert answer["reimbursement"] == [{"insurance_type": "resident", "reimbursement_ratio": None,
                                        "annual_limit_yuan": None, "is_example": False,
                                        "note": "报销比例和待遇标准依据湖北省及神农架林区相关医保政策执行"}]
    clock.set("2029-03-05")
    zh = await seed.login(zhao)  # a new day, a new login
    reviewer = await seed.staff_login(reviewer_row)
    assert await run_jobs(client, seed, settings) == (0, 0, 0)  # the renewed filing does not expire


async def test_a_filing_left_alone_expires(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                           settings: Settings) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    zhao = await seed.person("zhao")
    reviewer_row = await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA)
    reviewer = await seed.staff_login(reviewer_row)
    key = await make_key(seed, "SNJ-EX-0001")
    app_id, zh = await submitted(client, seed, zhao, hubei=True, disease_code="HB-SMI")  # 3 years (example)
    await approve(client, reviewer, app_id)
    clock.set("2030-02-25")  # first seen 3 days before the end: only the nearest reminder goes out
    zh = await seed.login(zhao)  # a new day, a new login
    reviewer = await seed.staff_login(reviewer_row)
    assert await run_jobs(client, seed, settings) == (0, 0, 1)
    clock.set("2030-02-28")
    zh = await seed.login(zhao)  # a new day, a new login
    reviewer = await seed.staff_login(reviewer_row)
    assert await run_jobs(client, seed, settings) == (0, 0, 0)
    assert (await eligible(client, key, id_number=zhao.id_number, disease_code="HB-SMI")).json()["eligible"]
    clock.set("2030-03-01")
    zh = await seed.login(zhao)  # a new day, a new login
    reviewer = await seed.staff_login(reviewer_row)
    assert await run_jobs(client, seed, settings) == (1, 0, 0)
    assert await run_jobs(client, seed, settings) == (0, 0, 0)
    (q,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
    assert q["status"] == "expired" and q["history"][-1]["action"] == "expired"
    kinds = [m["kind"] for m in (await client.get("/api/v1/notifications", headers=zh)).json()]
    assert kinds.count("qualification_expiring") == 1 and kinds[0] == "qualification_expired"
    answer = (await eligible(client, key, id_number=zhao.id_number, disease_code="HB-SMI")).json()
    assert (answer["eligible"], answer["reason"]) == (False, "expired") and answer["reimbursement"] == []
    # Within the grace period the person can still renew; the benefit resumes from the day after expiry.
    renewal = await client.post(f"/api/v1/qualifications/{q['id']}/renew", headers=zh)
    assert renewal.status_code == 201
    clock.set("2030-04-01")  # past the 30-day grace period: the renewal can no longer be submitted
    zh = await seed.login(zhao)  # a new day, a new login
    reviewer = await seed.staff_login(reviewer_row)
    await submit_followup_refused(client, zh, renewal.json())


async def submit_followup_refused(client: httpx.AsyncClient, headers: dict[str, str], app: dict) -> None:  # type: ignore[type-arg]
    await upload_all(client, headers, app["id"], HUBEI_MATERIALS)
    response = await submit(client, headers, app["id"])
    assert response.status_code == 409 and response.json()["error"] == "renewal_closed"


async def test_change_of_hospital_then_revocation(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer_row = await seed.staff("bj_reviewer", StaffRole.reviewer)
    admin_row = await seed.staff("bj_admin", StaffRole.admin)
    reviewer, admin = await seed.staff_login(reviewer_row), await seed.staff_login(admin_row)
    old_key, new_key = await make_key(seed, "BJ-EX-0001"), await make_key(seed, "BJ-EX-0002")
    app_id, zh = await submitted(client, seed, zhang)
    await approve(client, reviewer, app_id)
    (q,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
    assert q["valid_until"] is None and q["renewal_opens_on"] is None
    renew = await client.post(f"/api/v1/qualifications/{q['id']}/renew", headers=zh)
    assert renew.status_code == 409 and renew.json()["error"] == "renewal_not_offered"

    same = await client.post(f"/api/v1/qualifications/{q['id']}/change", headers=zh,
                             json={"hospital_code": "BJ-EX-0001"})
    assert same.status_code == 422 and same.json()["error"] == "same_hospital"
    clock.set("2027-06-10")
    zh = await seed.login(zhang)  # a new day, a new login
    reviewer, admin = await seed.staff_login(reviewer_row), await seed.staff_login(admin_row)
    change = await client.post(f"/api/v1/qualifications/{q['id']}/change", headers=zh,
                               json={"hospital_code": "BJ-EX-0002"})
    assert change.status_code == 201 and change.json()["kind"] == "change"
    assert change.json()["checklist"] == []  # Beijing's catalog asks no materials for a change
    await submit_followup(client, zh, change.json(), hubei=False)
    # Until the change is approved the old hospital is the one.
    before = (await eligible(client, old_key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO")).json()
    assert before["eligible"] is True
    await approve(client, reviewer, change.json()["id"])
    rows = (await client.get("/api/v1/qualifications", headers=zh)).json()
    new = next(r for r in rows if r["status"] == "active")
    old = next(r for r in rows if r["id"] == q["id"])
    assert (old["status"], old["ended_on"], new["effective_from"]) == ("replaced", "2027-06-10", "2027-06-10")
    assert new["hospital_name"] == "北京大学第一医院"
    at_old = (await eligible(client, old_key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO")).json()
    assert (at_old["eligible"], at_old["reason"], at_old["qualification"]) == (False, "replaced", None)
    yesterday = (await eligible(client, old_key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO",
                                on="2027-06-09")).json()
    assert yesterday["eligible"] is True
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mtb.app"):
        at_new = (await eligible(client, new_key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO")).json()
    assert at_new["eligible"] is True
    # One access line per query, naming who asked about whom (masked) and the answer.
    logged = [r for r in caplog.records if r.getMessage() == "request" and r.path == "/api/v1/eligibility"]  # type: ignore[attr-defined]
    assert len(logged) == 1
    assert (logged[0].id_number, logged[0].hospital, logged[0].eligible) == (  # type: ignore[attr-defined]
        "**************9010", at_new["qualification"]["hospital_code"], True)
    assert all(zhang.id_number not in r.getMessage() for r in caplog.records if r.name.startswith("mtb"))

    clock.set("2027-07-01")
    zh = await seed.login(zhang)  # a new day, a new login
    reviewer, admin = await seed.staff_login(reviewer_row), await seed.staff_login(admin_row)
    revoked = await client.post(f"/api/v1/admin/qualifications/{new['id']}/revoke", headers=admin,
                                json={"reason": "经核查诊断证明不实"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert revoked.json()["history"][-1]["reason"] == "经核查诊断证明不实"
    again = await client.post(f"/api/v1/admin/qualifications/{new['id']}/revoke", headers=admin,
                              json={"reason": "x"})
    assert again.status_code == 409
    answer = (await eligible(client, new_key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO")).json()
    assert (answer["eligible"], answer["reason"]) == (False, "revoked")
    messages = (await client.get("/api/v1/notifications", headers=zh)).json()
    assert messages[0]["kind"] == "qualification_revoked" and "经核查诊断证明不实" in messages[0]["body"]
    # Only administrators of the region revoke.
    assert (await client.post(f"/api/v1/admin/qualifications/{new['id']}/revoke", headers=reviewer,
                              json={"reason": "x"})).status_code == 403
    snj_admin = await seed.staff_login(await seed.staff("snj_admin", StaffRole.admin, SHENNONGJIA))
    assert (await client.post(f"/api/v1/admin/qualifications/{q['id']}/revoke", headers=snj_admin,
                              json={"reason": "x"})).status_code == 404


async def test_eligibility_reasons_and_refusals(client: httpx.AsyncClient, seed: Seed, clock: Clock) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    zhang, li = await seed.person("zhang"), await seed.person("li")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    key = await make_key(seed, "BJ-EX-0001")
    snj_key = await make_key(seed, "SNJ-EX-0001")
    app_id, _ = await submitted(client, seed, zhang)
    await approve(client, reviewer, app_id)
    ok = (await eligible(client, key, id_number=zhang.id_number, disease_code="BJ-TUMOR-CHEMO")).json()
    assert ok["eligible"] is True and ok["reason"] is None
    assert ok["qualification"]["id_number_masked"] == "**************9010"
    cases = [
        ({"id_number": li.id_number, "disease_code": "BJ-TUMOR-CHEMO"}, "no_filing"),
        ({"id_number": zhang.id_number, "disease_code": "BJ-HEMOPHILIA"}, "no_filing"),
        ({"id_number": zhang.id_number, "disease_code": "BJ-TUMOR-CHEMO", "on": "2027-02-28"}, "not_yet_effective"),
    ]
    for params, reason in cases:
        answer = await eligible(client, key, **params)
        assert answer.status_code == 200 and answer.json()["reason"] == reason, (params, answer.text)
        assert answer.json()["eligible"] is False and answer.json()["reason_text"]
    params = {"id_number": zhang.id_number, "disease_code": "BJ-TUMOR-CHEMO"}
    assert (await client.get("/api/v1/eligibility", params=params)).json()["error"] == "api_key_required"
    wrong = await eligible(client, "mtbh_not-a-key", **params)
    assert wrong.status_code == 401 and wrong.json()["error"] == "api_key_invalid"
    # A Shennongjia hospital neither sees Beijing filings nor asks about Beijing hospitals.
    assert (await eligible(client, snj_key, **params)).json()["reason"] == "no_filing"
    other = await eligible(client, snj_key, **params | {"hospital_code": "BJ-EX-0001"})
    assert other.status_code == 403 and other.json()["error"] == "hospital_other_region"
    not_ours = await eligible(client, key, **params | {"hospital_code": "BJ-EX-0003"})
    assert not_ours.status_code == 403 and not_ours.json()["error"] == "hospital_not_yours"
    bad = await eligible(client, key, id_number="123", disease_code="BJ-TUMOR-CHEMO")
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_id_number"


async def test_lapsed_claims_are_released_by_the_job(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                                     settings: Settings) -> None:
    clock.set("2027-03-01", hour=9)
    await seed.catalogs()
    reviewer_row = await seed.staff("bj_reviewer", StaffRole.reviewer)
    reviewer = await seed.staff_login(reviewer_row)
    app_id, _ = await submitted(client, seed, await seed.person("zhang"))
    await client.post(f"/api/v1/review/applications/{app_id}/claim", headers=reviewer)
    assert await run_jobs(client, seed, settings) == (0, 0, 0)
    clock.set("2027-03-01", hour=10)
    assert await run_jobs(client, seed, settings) == (0, 1, 0)
    assert await run_jobs(client, seed, settings) == (0, 0, 0)
    reviewer = await seed.staff_login(reviewer_row)
    item = (await client.get("/api/v1/review/queue", headers=reviewer)).json()["items"][0]
    assert item["claimed_by"] is None and item["status"] == "in_review"
    history = (await client.get(f"/api/v1/review/applications/{app_id}/history", headers=reviewer)).json()
    assert history[-1]["action"] == "claim_lapsed" and history[-1]["actor_kind"] == "system"


def test_hospital_key_command(settings: Settings) -> None:
    runner = CliRunner()
    files = [str(p) for p in sorted((settings.catalog_path).glob("*.yaml"))]
    assert runner.invoke(cli, ["catalog", "load", *files]).exit_code == 0
    made = runner.invoke(cli, ["hospital-key", "create", "SNJ-EX-0001"])
    assert made.exit_code == 0 and "region 429021" in made.output
    assert made.output.strip().splitlines()[-1].startswith("mtbh_")
    unknown = runner.invoke(cli, ["hospital-key", "create", "NOPE"])
    assert unknown.exit_code == 1 and "hospital_not_designated" in unknown.output
    jobs = runner.invoke(cli, ["jobs", "run"])
    assert jobs.exit_code == 0 and "expired 0" in jobs.output


async def test_new_application_is_refused_while_a_filing_is_active(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    app_id, zh = await submitted(client, seed, zhang)
    await approve(client, reviewer, app_id)
    again = await create(client, zh, **BEIJING_SELF)
    assert again.status_code == 409 and again.json()["error"] == "qualification_exists"
