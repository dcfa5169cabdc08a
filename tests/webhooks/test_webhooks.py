"""Webhooks: every announced change reaches the channels that asked for it, signed (checked with the
Standard Webhooks reference verifier), from an outbox written in the change's transaction, retried with
backoff, logged, delivered again on an administrator's request; never inline in a request. The receiving
endpoint is a real HTTP server in the test (receiver.py) on 127.0.0.1, so these tests allow private
addresses (MTB_WEBHOOK_ALLOW_PRIVATE); test_webhook_ssrf.py tests the refusal of them."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mtb import timeutil
from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.service import set_status
from mtb.applications.states import Status
from mtb.identity.models import StaffRole
from mtb.settings import Settings
from mtb.timeutil import utcnow
from mtb.webhooks.delivery import deliver_due
from mtb.webhooks.events import EventType
from mtb.webhooks.models import WebhookMessage
from tests.applications.helpers import BEIJING_SELF, create
from tests.channels.keys import private_key, public_pem
from tests.conftest import Clock
from tests.factories import SHENNONGJIA, Seed
from tests.qualifications.helpers import approve, submit_followup
from tests.review.helpers import claim, decide, submitted
from tests.webhooks.receiver import Receiver, allowing_private_addresses, receiver

ALL = [e.value for e in EventType]


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return allowing_private_addresses(monkeypatch)


async def endpoint(seed: Seed, url: str, *, events: list[str] | None = None, code: str | None = None,
                   region: str = "110000", catalog_channel: str | None = None) -> dict[str, Any]:
    """Register a channel of `region` (its admin's) and an endpoint; the answer has `secret` and `headers`."""
    admin = await seed.staff(f"admin-{uuid.uuid4().hex[:6]}", StaffRole.admin, region)
    headers = await seed.staff_login(admin)
    channel = await seed.client.post("/api/v1/admin/channels", headers=headers, json={
        "code": code or f"ch-{uuid.uuid4().hex[:6]}", "name": "渠道", "keys": public_pem(private_key("ec")),
        "catalog_channel": catalog_channel})
    assert channel.status_code == 201, channel.text
    response = await seed.client.post(f"/api/v1/admin/channels/{channel.json()['id']}/webhooks", headers=headers,
                                      json={"url": url, "events": events or ALL})
    assert response.status_code == 201, response.text
    return dict(response.json()) | {"headers": headers, "channel": channel.json(), "admin": admin}


async def outbox(seed: Seed) -> int:
    async with seed.sessionmaker() as s:
        return int((await s.execute(select(func.count()).select_from(WebhookMessage))).scalar_one())


def types(r: Receiver) -> list[str]:
    return [x.json()["type"] for x in r.received]


@pytest.fixture
async def people(seed: Seed) -> dict[str, Any]:
    await seed.catalogs()
    return {"zhang": await seed.person("zhang"), "li": await seed.person("li"), "wang": await seed.person("wang")}


async def test_the_review_loop_is_pushed_signed_and_without_personal_data(
        client: httpx.AsyncClient, seed: Seed, people: dict[str, Any], settings: Settings) -> None:
    zhang, li, wang = people["zhang"], people["li"], people["wang"]
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    with receiver() as r:
        hook = await endpoint(seed, r.url)
        app_id, zh = await submitted(client, seed, zhang)
        assert (await claim(client, reviewer, app_id)).status_code == 200
        returned = await decide(client, reviewer, app_id, "return",
                                [{"code": "material_unclear", "detail": "诊断证明公章看不清"}])
        assert returned.status_code == 200, returned.text
        assert (await client.post(f"/api/v1/applications/{app_id}/submit", headers=zh)).status_code == 200
        await approve(client, reviewer, app_id)
        # Withdrawn (a draft) and rejected, for two other people.
        draft = (await create(client, await seed.login(li), **BEIJING_SELF)).json()
        assert (await client.post(f"/api/v1/applications/{draft['id']}/withdraw",
                                  headers=await seed.login(li))).status_code == 200
        other, _ = await submitted(client, seed, wang)
        assert (await claim(client, reviewer, other)).status_code == 200
        rejected = await decide(client, reviewer, other, "reject", [{"code": "disease_not_in_catalog"}])
        assert rejected.status_code == 200, rejected.text
        assert r.received == []  # nothing was sent by the requests themselves
        report = await deliver_due(seed.sessionmaker, settings)
    assert report.delivered == len(r.received) == 7 and report.failed == 0
    assert sorted(types(r)) == sorted(["application.submitted", "application.returned", "application.submitted",
                                       "application.approved", "application.withdrawn", "application.submitted",
                                       "application.rejected"])
    mine = [x.verified(hook["secret"]) for x in r.received if x.json()["data"]["application_id"] == app_id]
    assert [p["type"] for p in sorted(mine, key=lambda p: p["timestamp"])] == [
        "application.submitted", "application.returned", "application.submitted", "application.approved"]
    case_number = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["case_number"]
    for payload in mine:
        data = payload["data"]
        assert data["case_number"] == case_number and data["person_id"] == str(zhang.row.id)
        assert data["links"]["application"] == f"/api/v1/applications/{app_id}"
        assert data["status"] == payload["type"].split(".")[1]
    assert len({x.id for x in r.received}) == 7  # one webhook-id per message
    for x in r.received:
        text = x.body.decode()
        for person in (zhang, li, wang):
            assert person.id_number not in text and person.id_number[:6] + "*" not in text
            assert person.name not in text and person.card_number not in text
        assert "BJ-TUMOR-CHEMO" not in text and "公章" not in text and "disease_not_in_catalog" not in text
        assert x.headers["content-type"] == "application/json"


async def test_filing_events_expiring_expired(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                              settings: Settings) -> None:
    from mtb.jobs import run_jobs

    clock.set("2027-03-01")
    await seed.catalogs()
    zhao = await seed.person("zhao")
    reviewer = await seed.staff_login(await seed.staff("rev-hb", StaffRole.reviewer, SHENNONGJIA))
    with receiver() as r:
        hook = await endpoint(seed, r.url, region=SHENNONGJIA,
                              events=["filing.expiring", "filing.expired", "application.approved"])
        app_id, _ = await submitted(client, seed, zhao, hubei=True, disease_code="HB-SMI")
        await approve(client, reviewer, app_id)
        no_ocr = settings.model_copy(update={"prereview_enabled": False})  # not what this test is about
        clock.set("2030-02-25")
        await run_jobs(seed.sessionmaker, no_ocr)
        clock.set("2030-03-01")
        await run_jobs(seed.sessionmaker, no_ocr)  # also delivers what is due
    # One batch sends its messages at once: their order of arrival is not theirs; their timestamps are.
    received = sorted(r.received, key=lambda x: x.json()["timestamp"])
    assert [x.json()["type"] for x in received] == ["application.approved", "filing.expiring", "filing.expired"]
    expiring, expired = (x.verified(hook["secret"])["data"] for x in received[1:])
    assert expiring["days_before"] == 7 and expiring["status"] == "active"
    assert expired["status"] == "expired" and expired["qualification_id"] == expiring["qualification_id"]
    assert expired["valid_until"] == "2030-02-28" and expired["application_id"] == app_id
    assert expired["links"]["qualification"] == f"/api/v1/qualifications/{expired['qualification_id']}"


async def test_filing_events_changed_revoked(client: httpx.AsyncClient, seed: Seed, clock: Clock,
                                             settings: Settings) -> None:
    clock.set("2027-03-01")
    await seed.catalogs()
    zhang = await seed.person("zhang")
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    with receiver() as r:
        hook = await endpoint(seed, r.url, events=["filing.changed", "filing.revoked"])
        app_id, zh = await submitted(client, seed, zhang)
        await approve(client, reviewer, app_id)
        (q,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
        change = await client.post(f"/api/v1/qualifications/{q['id']}/change", headers=zh,
                                   json={"hospital_code": "BJ-EX-0002"})
        await submit_followup(client, zh, change.json(), hubei=False)
        await approve(client, reviewer, change.json()["id"])
        new = next(x for x in (await client.get("/api/v1/qualifications", headers=zh)).json()
                   if x["status"] == "active")
        revoked = await client.post(f"/api/v1/admin/qualifications/{new['id']}/revoke", headers=hook["headers"],
                                    json={"reason": "经核查诊断证明不实"})
        assert revoked.status_code == 200
        await deliver_due(seed.sessionmaker, settings)
    assert sorted(types(r)) == ["filing.changed", "filing.revoked"]  # one batch: any order
    received = [r.of_type("filing.changed")[0], r.of_type("filing.revoked")[0]]
    changed, gone = (x.verified(hook["secret"])["data"] for x in received)
    assert (changed["qualification_id"], changed["status"], changed["replaced_by"], changed["change_kind"]) == (
        q["id"], "replaced", new["id"], "change")
    assert (gone["qualification_id"], gone["status"]) == (new["id"], "revoked")
    assert "不实" not in received[1].body.decode()


async def test_who_hears_what(client: httpx.AsyncClient, seed: Seed, people: dict[str, Any],
                              settings: Settings) -> None:
    with receiver() as everything, receiver() as approvals, receiver() as jingtong, receiver() as hubei, \
            receiver() as paused:
        await endpoint(seed, everything.url, catalog_channel="bj_app")
        await endpoint(seed, approvals.url, events=["application.approved"])
        await endpoint(seed, jingtong.url, catalog_channel="jingtong")  # hears only of applications made there
        await endpoint(seed, hubei.url, region=SHENNONGJIA)
        stopped = await endpoint(seed, paused.url)
        off = await client.post(f"/api/v1/admin/webhooks/{stopped['id']}/disable", headers=stopped["headers"])
        assert off.json()["active"] is False
        await submitted(client, seed, people["zhang"])  # channel bj_app
        await deliver_due(seed.sessionmaker, settings)
        assert types(everything) == ["application.submitted"]
        assert approvals.received == jingtong.received == hubei.received == paused.received == []
        # A paused endpoint's messages wait (nothing is lost) and go out once it is enabled again.
        on = await client.post(f"/api/v1/admin/webhooks/{stopped['id']}/enable", headers=stopped["headers"])
        assert on.json()["active"] is True
        await deliver_due(seed.sessionmaker, settings)
        assert types(paused) == ["application.submitted"]
        # A disabled channel's endpoints get no new messages.
        await client.post(f"/api/v1/admin/channels/{stopped['channel']['id']}/disable", headers=stopped["headers"])
        await submitted(client, seed, people["li"])
        await deliver_due(seed.sessionmaker, settings)
        assert types(paused) == ["application.submitted"] and len(everything.received) == 2


async def test_the_outbox_row_exists_if_and_only_if_the_change_does(
        client: httpx.AsyncClient, seed: Seed, people: dict[str, Any], settings: Settings) -> None:
    with receiver() as r:
        await endpoint(seed, r.url)
        app_id, zh = await submitted(client, seed, people["zhang"])
        assert await outbox(seed) == 1
        # A refused change (withdrawing twice, approving a submitted application) writes nothing.
        assert (await client.post(f"/api/v1/applications/{app_id}/withdraw", headers=zh)).status_code == 200
        again = await client.post(f"/api/v1/applications/{app_id}/withdraw", headers=zh)
        assert again.status_code == 409
        assert await outbox(seed) == 2
        # A change whose transaction rolls back leaves no message either.
        draft = (await create(client, await seed.login(people["li"]), **BEIJING_SELF)).json()
        with pytest.raises(RuntimeError):
            async with seed.sessionmaker() as s, s.begin():
                app = await s.get(Application, uuid.UUID(draft["id"]))
                assert app is not None
                await set_status(s, app, Status.withdrawn, actor=Actor("person", app.beneficiary_id))
                assert (await s.execute(select(func.count()).select_from(WebhookMessage))).scalar_one() == 3
                raise RuntimeError("the request failed after the change")
        assert await outbox(seed) == 2
        await deliver_due(seed.sessionmaker, settings)
    assert sorted(types(r)) == ["application.submitted", "application.withdrawn"]


async def test_retries_with_backoff_give_up_and_are_delivered_again_on_request(
        client: httpx.AsyncClient, seed: Seed, people: dict[str, Any], settings: Settings, clock: Clock) -> None:
    clock.set("2027-03-01")
    few = settings.model_copy(update={"webhook_max_attempts": 3})
    with receiver() as r:
        hook = await endpoint(seed, r.url)
        r.statuses = [500, 503, 404]
        await submitted(client, seed, people["zhang"])
        start = utcnow()
        assert (await deliver_due(seed.sessionmaker, few)).failed == 1
        assert (await deliver_due(seed.sessionmaker, few)).failed == 0  # not due yet: waits for its backoff
        timeutil.freeze(start + timedelta(seconds=5))
        assert (await deliver_due(seed.sessionmaker, few)).failed == 1
        timeutil.freeze(start + timedelta(seconds=5 + 29))
        assert (await deliver_due(seed.sessionmaker, few)).failed == 0  # 30 s after the second: not yet
        timeutil.freeze(start + timedelta(seconds=5 + 30))
        assert (await deliver_due(seed.sessionmaker, few)).failed == 1
        timeutil.freeze(start + timedelta(days=30))
        assert (await deliver_due(seed.sessionmaker, few)).failed == 0  # given up after 3 attempts
        hook["headers"] = await seed.staff_login(hook["admin"])  # a new day, a new login
        log = (await client.get("/api/v1/admin/webhook-messages", headers=hook["headers"])).json()
        (message,) = log
        assert message["status"] == "failed" and message["attempts"] == 3
        assert [(a["attempt"], a["status_code"]) for a in message["log"]] == [(1, 500), (2, 503), (3, 404)]
        again = await client.post(f"/api/v1/admin/webhook-messages/{message['id']}/redeliver",
                                  headers=hook["headers"])
        assert again.status_code == 200 and again.json()["status"] == "pending"
        assert (await deliver_due(seed.sessionmaker, few)).delivered == 1
    assert len(r.received) == 4 and {x.id for x in r.received} == {message["id"]}
    assert len({x.headers["webhook-signature"] for x in r.received}) >= 1
    for x in r.received:
        assert x.verified(hook["secret"])["type"] == "application.submitted"
    done = (await client.get("/api/v1/admin/webhook-messages", headers=hook["headers"],
                             params={"status": "delivered"})).json()
    assert [(a["attempt"], a["status_code"]) for a in done[0]["log"]][-1] == (1, 200)
    assert done[0]["redelivered_at"] is not None


async def test_an_unreachable_endpoint_is_an_attempt_that_failed(
        client: httpx.AsyncClient, seed: Seed, people: dict[str, Any], settings: Settings) -> None:
    with receiver() as r:
        url = r.url
    hook = await endpoint(seed, url)  # the server is gone: connection refused
    await submitted(client, seed, people["zhang"])
    assert (await deliver_due(seed.sessionmaker, settings)).failed == 1
    (message,) = (await client.get("/api/v1/admin/webhook-messages", headers=hook["headers"])).json()
    assert message["status"] == "pending" and message["log"][0]["status_code"] is None
    assert "ConnectError" in message["log"][0]["error"]


async def test_a_slow_endpoint_delays_no_request(client: httpx.AsyncClient, seed: Seed, people: dict[str, Any],
                                                 settings: Settings) -> None:
    with receiver() as r:
        await endpoint(seed, r.url)
        r.hold.clear()  # the endpoint takes every request and does not answer until released
        await submitted(client, seed, people["zhang"])
        assert r.received == []  # the request was answered without any delivery
        worker = asyncio.create_task(deliver_due(seed.sessionmaker, settings))
        await asyncio.to_thread(r.arrived.wait, 10)
        assert len(r.received) == 1 and not worker.done()  # the delivery hangs...
        # ...while requests go on: another application is submitted and withdrawn, answered at once.
        second, li = await submitted(client, seed, people["li"])
        assert (await client.post(f"/api/v1/applications/{second}/withdraw", headers=li)).status_code == 200
        assert not worker.done() and len(r.received) == 1
        r.hold.set()
        await worker
        await deliver_due(seed.sessionmaker, settings)
    assert sorted(types(r)) == ["application.submitted", "application.submitted", "application.withdrawn"]


async def test_two_workers_deliver_each_message_once(client: httpx.AsyncClient, seed: Seed,
                                                     settings: Settings) -> None:
    await seed.catalogs()
    with receiver() as r:
        await endpoint(seed, r.url)
        await endpoint(seed, r.url)  # a second channel on the same receiver: two messages per event
        for _ in range(6):
            await submitted(client, seed, await seed.person())
        assert await outbox(seed) == 12
        small = settings.model_copy(update={"webhook_batch": 2})
        reports = await asyncio.gather(deliver_due(seed.sessionmaker, small), deliver_due(seed.sessionmaker, small))
    assert sum(rep.delivered for rep in reports) == 12
    ids = [x.id for x in r.received]
    assert len(ids) == len(set(ids)) == 12


async def test_administration_is_the_regions_and_refuses_bad_input(client: httpx.AsyncClient, seed: Seed,
                                                                   people: dict[str, Any]) -> None:
    with receiver() as r:
        hook = await endpoint(seed, r.url)
    headers, channel_id = hook["headers"], hook["channel"]["id"]
    assert hook["secret"].startswith("whsec_")
    listed = (await client.get(f"/api/v1/admin/channels/{channel_id}/webhooks", headers=headers)).json()
    assert [e["id"] for e in listed] == [hook["id"]] and "secret" not in listed[0]
    for body, code in [({"url": "ftp://x/y", "events": ALL}, "invalid_webhook_url"),
                       ({"url": "http://user:pw@x/y", "events": ALL}, "invalid_webhook_url"),
                       ({"url": "not a url", "events": ALL}, "invalid_webhook_url"),
                       ({"url": "https://x/y", "events": ["application.lost"]}, "invalid_request"),
                       ({"url": "https://x/y", "events": []}, "invalid_request")]:
        response = await client.post(f"/api/v1/admin/channels/{channel_id}/webhooks", headers=headers, json=body)
        assert response.status_code == 422 and response.json()["error"] == code, response.text
    await submitted(client, seed, people["zhang"])
    (message,) = (await client.get("/api/v1/admin/webhook-messages", headers=headers)).json()
    hubei = await seed.staff_login(await seed.staff("admin-hb", StaffRole.admin, SHENNONGJIA))
    assert (await client.get("/api/v1/admin/webhook-messages", headers=hubei)).json() == []
    for method, path in [("get", f"/api/v1/admin/channels/{channel_id}/webhooks"),
                         ("post", f"/api/v1/admin/webhooks/{hook['id']}/disable"),
                         ("post", f"/api/v1/admin/webhook-messages/{message['id']}/redeliver")]:
        response = await client.request(method, path, headers=hubei)
        assert response.status_code == 404, (path, response.text)
    reviewer = await seed.staff_login(await seed.staff("rev", StaffRole.reviewer))
    assert (await client.get("/api/v1/admin/webhook-messages", headers=reviewer)).status_code == 403
    assert json.loads(json.dumps(message))["event_type"] == "application.submitted"


async def test_the_admin_page_shows_the_log_and_delivers_again(client: httpx.AsyncClient, seed: Seed,
                                                               people: dict[str, Any], settings: Settings) -> None:
    from tests.web.helpers import as_staff, post_form

    with receiver() as r:
        hook = await endpoint(seed, r.url, catalog_channel="bj_app")
        r.statuses = [500]
        await submitted(client, seed, people["zhang"])
        await deliver_due(seed.sessionmaker, settings)
        await as_staff(seed, hook["admin"])
        page = await client.get("/staff/admin/channels")
        assert page.status_code == 200
        (message,) = (await client.get("/api/v1/admin/webhook-messages", headers=hook["headers"])).json()
        for text in ("渠道与推送", r.url, "申请已提交", message["id"], "待投递", "HTTP 500", "重新投递", "bj_app"):
            assert text in page.text, text
        assert people["zhang"].id_number not in page.text
        failed_only = await client.get("/staff/admin/channels", params={"status": "failed"})
        assert message["id"] not in failed_only.text
        without_csrf = await client.post(f"/staff/admin/webhook-messages/{message['id']}/redeliver")
        assert without_csrf.status_code == 403
        done = await post_form(client, f"/staff/admin/webhook-messages/{message['id']}/redeliver")
        assert done.status_code == 303 and done.headers["location"].endswith(f"redelivered={message['id']}")
        assert (await deliver_due(seed.sessionmaker, settings)).delivered == 1
        page = await client.get("/staff/admin/channels")
        assert "已送达" in page.text and "HTTP 200" in page.text
        missing = await post_form(client, "/staff/admin/webhook-messages/msg_nope/redeliver")
        assert missing.status_code == 404
    assert [x.id for x in r.received] == [message["id"], message["id"]]
