"""The review queue as the direct reader reads it (one statement, mtb/review/queue.py `queue_rows`) against
the same queue written out plainly over the ORM session: the region's submitted and in-review
applications, each filter as a reviewer means it, in due-date order, page after page by the cursor.
Compared over every filter a reviewer can set, for both regions (issue 18: a change to a column or to
the region rule changes both)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications import service as app_service
from mtb.applications.models import Application
from mtb.applications.states import Status
from mtb.identity.models import InsuredPerson, StaffRole
from mtb.review.queue import QUEUE_STATUSES, QueueFilter, QueueSearch, encode_cursor, queue_rows
from mtb.timeutil import local_today, utcnow
from tests.factories import Seed
from tests.review.helpers import claim, submitted

BEIJING, SHENNONGJIA = "110000", "429021"


async def session_queue(session: AsyncSession, *, region_code: str, filters: QueueFilter, today: date) -> list[uuid.UUID]:
    """The queue as a reviewer reads its definition, filtered in Python over plain ORM rows."""
    statuses = [filters.status.value] if filters.status else [s.value for s in QUEUE_STATUSES]
    rows = (await session.execute(select(Application, InsuredPerson)
                                  .join(InsuredPerson, InsuredPerson.id == Application.beneficiary_id)
                                  .where(Application.region_code == region_code))).all()
    kept: list[Application] = []
    for app, person in rows:
        search = filters.search
        if app.status not in statuses:
            continue
        if filters.disease_code and app.disease_code != filters.disease_code:
            continue
        if filters.channel and app.channel != filters.channel:
            continue
        if filters.overdue is not None and app.due_date is not None and (app.due_date < today) != filters.overdue:
            continue
        if search and search.case_number and app.case_number != search.case_number:
            continue
        if search and search.name and not person.name.startswith(search.name):
            continue
        if search and search.last4 and person.id_number_last4 != search.last4:
            continue
        if filters.free_for is not None:
            assert filters.lapsed_before is not None
            if app.claimed_by_id is not None and not (app.claimed_at and app.claimed_at < filters.lapsed_before):
                continue
            if app.pending_approval_by_id == filters.free_for:
                continue
        kept.append(app)
    kept.sort(key=lambda a: (a.due_date, a.submitted_at, a.id), reverse=filters.sort == "-due")
    return [a.id for a in kept]


async def direct_queue(reader: Any, *, region_code: str, filters: QueueFilter, today: date) -> list[uuid.UUID]:
    """Every page of the direct queue, three at a time, by the cursor."""
    found: list[uuid.UUID] = []
    cursor = None
    for _ in range(50):
        rows = await queue_rows(reader, region_code=region_code, filters=filters, limit=3, cursor=cursor, today=today)
        found += [r.id for r in rows[:3]]
        if len(rows) <= 3:
            return found
        cursor = encode_cursor(rows[2])
    raise AssertionError("the cursor never ended")


async def test_the_direct_queue_is_the_plainly_written_queue_under_every_filter(
        client: httpx.AsyncClient, seed: Seed, monkeypatch: pytest.MonkeyPatch,
        app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    await seed.catalogs()
    reader = app_and_client[0].state.direct
    bj = await seed.staff("bj_rev", StaffRole.reviewer, BEIJING)
    bj_headers = await seed.staff_login(bj)
    snj_headers = await seed.staff_login(await seed.staff("snj_rev", StaffRole.reviewer, SHENNONGJIA))
    people = ["张三", "张小明", "李四", "王五", "张三丰", "赵六"]
    ids: list[str] = []
    for i, name in enumerate(people):  # submitted on different days: different due dates, some overdue
        monkeypatch.setattr(app_service, "local_today", lambda d=date(2025, 9, 1) + timedelta(days=3 * i): d)
        disease = "BJ-TUMOR-CHEMO" if i % 2 else "BJ-HEMOPHILIA"
        app_id, _ = await submitted(client, seed, await seed.person(name=name), disease_code=disease,
                                    channel="bj_app" if i % 3 else "jingtong")
        ids.append(app_id)
    for name in ("钱七", "张五"):
        ids.append((await submitted(client, seed, await seed.person(name=name, region_code=SHENNONGJIA), hubei=True))[0])
    monkeypatch.undo()
    for app_id in (ids[1], ids[4]):  # two held by the Beijing reviewer; the Shennongjia one by its own
        assert (await claim(client, bj_headers, app_id)).status_code == 200
    assert (await claim(client, snj_headers, ids[6])).status_code == 200
    async with seed.sessionmaker() as s:
        some = await s.get(Application, uuid.UUID(ids[3]))
        assert some is not None and some.case_number
        case = some.case_number
        last4 = (await s.get(InsuredPerson, some.beneficiary_id)).id_number_last4  # type: ignore[union-attr]

    today = local_today()
    searches = [None, QueueSearch.parse("张"), QueueSearch.parse("张三"), QueueSearch.parse(last4),
                QueueSearch.parse(f"王 {last4}"), QueueSearch.parse(case), QueueSearch.parse("无此人")]
    variants = [QueueFilter()]
    variants += [QueueFilter(status=s) for s in (Status.submitted, Status.in_review)]
    variants += [QueueFilter(disease_code=d) for d in ("BJ-TUMOR-CHEMO", "BJ-HEMOPHILIA", "HB-CRF-DIALYSIS")]
    variants += [QueueFilter(channel=c) for c in ("bj_app", "jingtong", "hb_mp")]
    variants += [QueueFilter(overdue=o) for o in (True, False)]
    variants += [QueueFilter(search=s, sort=o) for s in searches for o in ("due", "-due")]
    variants += [QueueFilter(free_for=bj.id, lapsed_before=utcnow() - timedelta(minutes=30)),
                 QueueFilter(free_for=bj.id, lapsed_before=utcnow() + timedelta(minutes=1)),
                 QueueFilter(status=Status.in_review, sort="-due", disease_code="BJ-HEMOPHILIA")]
    nonempty = 0
    async with seed.sessionmaker() as s:
        for region in (BEIJING, SHENNONGJIA):
            for filters in variants:
                expected = await session_queue(s, region_code=region, filters=filters, today=today)
                got = await direct_queue(reader, region_code=region, filters=filters, today=today)
                assert got == expected, (region, filters)
                nonempty += bool(expected)
    assert nonempty >= len(variants)  # most variants find something: the comparison is not of empty lists
