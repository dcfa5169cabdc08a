"""The filing's transition table and its one writer, `set_status`: every pair of statuses by every act is
allowed exactly when the table says so (and writes its history row and notice) or refused with nothing
written; two writers that read the same filing: exactly one wins, the other gets a 409, never a 500."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.actors import SYSTEM
from mtb.applications.models import Application
from mtb.errors import Conflict
from mtb.identity.models import StaffRole
from mtb.notifications.models import Notification
from mtb.qualifications.models import Qualification, QualificationEvent
from mtb.qualifications.service import QualificationChanged, grant, set_status
from mtb.qualifications.states import EVENTS, INITIAL, TRANSITIONS, Action, Status, may, permits
from mtb.timeutil import local_today, utcnow
from tests.applications.helpers import BEIJING_SELF, create
from tests.factories import Seed
from tests.qualifications.helpers import approve, submit_followup
from tests.review.helpers import claim, decide, submitted

PAIRS = list(itertools.product(Status, Status))
NOTICES = {Action.expire: "qualification_expired", Action.revoke: "qualification_revoked"}


def test_the_table_is_todays_lifecycle() -> None:
    """What the code did before the table, written down: nothing else is allowed, nothing returns to active."""
    allowed = {(a, b, act) for (a, b), acts in TRANSITIONS.items() for act in acts}
    assert allowed == {(Status.active, Status.expired, Action.expire),
                       (Status.active, Status.revoked, Action.revoke),
                       (Status.active, Status.replaced, Action.change),
                       (Status.active, Status.replaced, Action.renew),
                       (Status.expired, Status.replaced, Action.renew)}
    assert INITIAL is Status.active and all(to is not Status.active for _, to in TRANSITIONS)
    for (current, to), action in itertools.product(PAIRS, Action):
        assert permits(current, to, action) == ((current, to, action) in allowed)
    for current, action in itertools.product(Status, Action):
        assert may(current, action) == any(permits(current, to, action) for to in Status)


async def a_filing(seed: Seed) -> uuid.UUID:
    """An active filing, granted to a draft application by the real `grant` (the review is tested elsewhere)."""
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    response = await create(seed.client, headers, **BEIJING_SELF)
    assert response.status_code == 201, response.text
    async with seed.sessionmaker() as s, s.begin():
        app = await s.get(Application, uuid.UUID(response.json()["id"]))
        assert app is not None
        return (await grant(s, app, at=utcnow(), actor=SYSTEM)).id


def arguments(action: Action) -> dict[str, Any]:
    """What each writer passes with the act (service.revoke, service.grant, qualifications/jobs.py)."""
    if action is Action.revoke:
        return {"reason": "经核查材料不实", "ended_on": local_today()}
    if action in (Action.change, Action.renew):
        return {"detail": {"by": str(uuid.uuid4()), "kind": "change" if action is Action.change else "renewal"},
                "ended_on": local_today()}
    return {}


async def written(sessionmaker: async_sessionmaker[AsyncSession], q_id: uuid.UUID) -> tuple[str, int, int]:
    """The filing's status, its history rows and its person's notices."""
    async with sessionmaker() as s:
        q = await s.get(Qualification, q_id)
        assert q is not None
        events = (await s.execute(select(func.count()).select_from(QualificationEvent)
                                  .where(QualificationEvent.qualification_id == q_id))).scalar_one()
        notices = (await s.execute(select(func.count()).select_from(Notification)
                                   .where(Notification.person_id == q.person_id))).scalar_one()
        return q.status, events, notices


@pytest.mark.parametrize(("current", "to"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
async def test_every_pair_by_every_act_is_allowed_only_by_the_table(seed: Seed, current: Status,
                                                                    to: Status) -> None:
    q_id = await a_filing(seed)
    for action in Action:
        async with seed.sessionmaker() as s, s.begin():  # the filing as it would be, in the real database
            await s.execute(update(Qualification).where(Qualification.id == q_id)
                            .values(status=current.value, ended_on=None))
        status, events, notices = await written(seed.sessionmaker, q_id)
        if not permits(current, to, action):
            with pytest.raises(Conflict) as refused:
                async with seed.sessionmaker() as s, s.begin():
                    q = await s.get(Qualification, q_id)
                    assert q is not None
                    await set_status(s, q, to, action=action, actor=SYSTEM, **arguments(action))
            expected = "qualification_not_active" if not may(current, action) else "invalid_transition"
            assert refused.value.code == expected, (action, refused.value.detail)
            assert await written(seed.sessionmaker, q_id) == (status, events, notices)  # nothing half-written
            continue
        async with seed.sessionmaker() as s, s.begin():
            q = await s.get(Qualification, q_id)
            assert q is not None
            await set_status(s, q, to, action=action, actor=SYSTEM, **arguments(action))
        assert await written(seed.sessionmaker, q_id) == (to.value, events + 1, notices + (action in NOTICES))
        async with seed.sessionmaker() as s:
            last = (await s.execute(select(QualificationEvent).where(QualificationEvent.qualification_id == q_id)
                                    .order_by(QualificationEvent.id.desc()).limit(1))).scalar_one()
            q = await s.get(Qualification, q_id)
            assert q is not None
            assert last.action == EVENTS[action] and last.actor_kind == "system"
            assert (q.ended_on is None) == (action is Action.expire)
            if action in NOTICES:
                kind = (await s.execute(select(Notification.kind).where(Notification.person_id == q.person_id)
                                        .order_by(Notification.created_at.desc()).limit(1))).scalar_one()
                assert kind == NOTICES[action]


ACTS = list(itertools.product(Action, Action))


@pytest.mark.parametrize(("first", "second"), ACTS, ids=[f"{a.value}-then-{b.value}" for a, b in ACTS])
async def test_a_stale_writer_loses(seed: Seed, first: Action, second: Action) -> None:
    """Both read the filing active; the first commits; the second's act, allowed on what it read, finds the
    status changed under it: 409 concurrent_change, and nothing of it is written."""
    q_id = await a_filing(seed)
    targets = {Action.expire: Status.expired, Action.revoke: Status.revoked, Action.change: Status.replaced,
               Action.renew: Status.replaced}
    _status, events, notices = await written(seed.sessionmaker, q_id)
    async with seed.sessionmaker() as one, seed.sessionmaker() as other:
        mine, theirs = await one.get(Qualification, q_id), await other.get(Qualification, q_id)
        assert mine is not None and theirs is not None and mine.status == theirs.status == "active"
        await set_status(one, mine, targets[first], action=first, actor=SYSTEM, **arguments(first))
        await one.commit()
        with pytest.raises(QualificationChanged) as lost:
            await set_status(other, theirs, targets[second], action=second, actor=SYSTEM, **arguments(second))
        await other.rollback()
    assert (lost.value.status_code, lost.value.code) == (409, "concurrent_change")
    assert await written(seed.sessionmaker, q_id) == (targets[first].value, events + 1,
                                                       notices + (first in NOTICES))


async def test_racing_revocations_revoke_once(client: httpx.AsyncClient, seed: Seed) -> None:
    """Three administrators revoke at once: one 200, the others a 409 with a code, one history row."""
    await seed.catalogs()
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    admins = [await seed.staff_login(await seed.staff(f"bj_admin{i}", StaffRole.admin)) for i in range(3)]
    app_id, zh = await submitted(client, seed, await seed.person("zhang"))
    await approve(client, reviewer, app_id)
    (q,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
    responses = await asyncio.gather(*(client.post(f"/api/v1/admin/qualifications/{q['id']}/revoke", headers=a,
                                                   json={"reason": f"核查{i}"}) for i, a in enumerate(admins)))
    assert sorted(r.status_code for r in responses) == [200, 409, 409], [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 409} <= {"concurrent_change",
                                                                               "qualification_not_active"}
    history = (await client.get("/api/v1/qualifications", headers=zh)).json()[0]["history"]
    assert [h["action"] for h in history] == ["granted", "revoked"]


async def test_approving_a_change_of_a_filing_revoked_meanwhile_is_refused_whole(
        client: httpx.AsyncClient, seed: Seed) -> None:
    """The change was submitted while the filing was active; an administrator revoked it before the review:
    the approval answers 409 and leaves nothing behind (no decision, no new filing, still in review)."""
    await seed.catalogs()
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    admin = await seed.staff_login(await seed.staff("bj_admin", StaffRole.admin))
    app_id, zh = await submitted(client, seed, await seed.person("zhang"))
    await approve(client, reviewer, app_id)
    (q,) = (await client.get("/api/v1/qualifications", headers=zh)).json()
    change = await client.post(f"/api/v1/qualifications/{q['id']}/change", headers=zh,
                               json={"hospital_code": "BJ-EX-0002"})
    assert change.status_code == 201, change.text
    await submit_followup(client, zh, change.json(), hubei=False)
    revoked = await client.post(f"/api/v1/admin/qualifications/{q['id']}/revoke", headers=admin,
                                json={"reason": "经核查材料不实"})
    assert revoked.status_code == 200
    assert (await claim(client, reviewer, change.json()["id"])).status_code == 200
    approval = await decide(client, reviewer, change.json()["id"], "approve")
    assert approval.status_code == 409 and approval.json()["error"] == "qualification_not_active", approval.text
    rows = (await client.get("/api/v1/qualifications", headers=zh)).json()
    assert [(r["id"], r["status"]) for r in rows] == [(q["id"], "revoked")]
    assert [h["action"] for h in rows[0]["history"]] == ["granted", "revoked"]
    status = (await client.get(f"/api/v1/applications/{change.json()['id']}", headers=zh)).json()["status"]
    assert status == "in_review"


def test_nothing_else_writes_a_filing_status() -> None:
    """Only qualifications/service.py's set_status updates the status (and grant inserts it active)."""
    import pathlib
    import re

    import mtb

    root = pathlib.Path(mtb.__file__).parent
    writers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                     if re.search(r"update\(Qualification\)", p.read_text("utf-8")))
    assert writers == ["qualifications/service.py"]
