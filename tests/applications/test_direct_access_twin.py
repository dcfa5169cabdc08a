"""The direct reader's statements (mtb/direct) hold the session path's access rule itself (issue 18): the
filter `readable_by` builds (applications/actors.py) is compiled into them, so a change to the rule
changes both paths; and for every asker, someone who may not see an application included, both paths
answer the same."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlalchemy import bindparam

from mtb.applications.actors import Actor, person_may_read, readable_by, staff_may_read
from mtb.applications.service import get_readable
from mtb.catalog.service import in_force
from mtb.direct.applications import APPLICATION, STATUS, read_own_application, read_own_status
from mtb.direct.eligibility import FACTS
from mtb.direct.statements import DIALECTS, Statement
from mtb.errors import NotFound
from mtb.identity.tokens import Principal
from mtb.qualifications.models import HospitalKey
from mtb.review.queue import QueueFilter, QueueSearch, queue_sql
from mtb.review.workbench import COUNTS_SQL
from tests.applications.helpers import HUBEI, create
from tests.factories import Seed
from tests.review.helpers import submitted


def _text(element: Any, dialect: str) -> str:
    """The compiled text with every placeholder as `?` (PostgreSQL numbers them by statement)."""
    return re.sub(r"\$\d+", "?", str(element.compile(dialect=DIALECTS[dialect])))


def test_readable_by_is_built_of_the_predicates_the_direct_statements_use() -> None:
    someone = uuid.uuid4()
    assert readable_by(Actor("person", someone)).compare(person_may_read(someone))
    assert readable_by(Actor("staff", someone, "110000")).compare(staff_may_read("110000"))


def test_the_person_rule_is_compiled_into_the_applicants_reads() -> None:
    for dialect in DIALECTS:
        rule = _text(person_may_read(bindparam("person")), dialect)
        for statement in (APPLICATION, STATUS):
            assert rule in _text(statement.query, dialect), (statement.name, dialect, rule)


def test_the_staff_rule_is_compiled_into_the_queue_and_the_counts() -> None:
    queues: list[Statement] = [queue_sql(statuses=["submitted"], filters=QueueFilter(search=search), with_cursor=False)
                               for search in (None, QueueSearch(name="张"), QueueSearch(case_number="BJ20250601-000001"))]
    for dialect in DIALECTS:
        rule = _text(staff_may_read(bindparam("region")), dialect)
        assert rule in _text(queues[0].query, dialect) and rule in _text(COUNTS_SQL[2].query, dialect)
        # A search checks the same rule on the column as `region_code || ''` (not walked by its index).
        unindexed = rule.replace("applications.region_code", "applications.region_code || ''")
        assert unindexed in _text(queues[1].query, dialect) and unindexed in _text(queues[2].query, dialect)


def test_the_catalog_in_force_is_the_session_paths_select() -> None:
    for dialect in DIALECTS:
        # Its conditions and order (standing alone it lists hospital_keys in its FROM; in FACTS it is
        # correlated to the key's row).
        where = _text(in_force(HospitalKey.region_code, bindparam("day")), dialect).split("\nWHERE ")[1]
        assert where in _text(FACTS.query, dialect) and "catalog_versions.effective_from <= ?" in where


async def _session_sees(seed: Seed, person: uuid.UUID, app_id: uuid.UUID) -> bool:
    async with seed.sessionmaker() as s:
        try:
            await get_readable(s, Actor("person", person), app_id)
        except NotFound:
            return False
    return True


async def _direct_sees(read: Any, reader: Any, principal: Principal, app_id: uuid.UUID) -> bool:
    try:
        await read(reader, principal, app_id)
    except NotFound:
        return False
    return True


async def test_each_person_sees_the_same_applications_on_both_paths(
        client: httpx.AsyncClient, seed: Seed, app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    reader = app_and_client[0].state.direct
    await seed.catalogs()
    zhao, qian, li = await seed.person("zhao"), await seed.person("qian"), await seed.person("li")
    qh = await seed.login(qian)
    made = await create(client, qh, **HUBEI, beneficiary=zhao.credentials() | {"relation": "child"})
    assert made.status_code == 201, made.text
    by_agent = made.json()["id"]
    assert (await client.post(f"/api/v1/applications/{by_agent}/withdraw", headers=qh)).status_code == 200
    own, _ = await submitted(client, seed, zhao, hubei=True)
    apps = [uuid.UUID(own), uuid.UUID(by_agent), uuid.UUID("00000000-0000-4000-8000-000000000000")]
    seen: dict[tuple[str, int], bool] = {}
    for name, person in (("zhao", zhao), ("qian", qian), ("li", li)):
        principal = Principal(kind="person", id=person.row.id, session_id=f"twin-{name}")
        for i, app_id in enumerate(apps):
            session = await _session_sees(seed, person.row.id, app_id)
            for read in (read_own_application, read_own_status):
                assert await _direct_sees(read, reader, principal, app_id) == session, (name, i, read.__name__)
            seen[name, i] = session
    # The beneficiary sees both, the agent the one they made, a stranger neither; nobody the missing one.
    assert seen == {("zhao", 0): True, ("zhao", 1): True, ("zhao", 2): False, ("qian", 0): False,
                    ("qian", 1): True, ("qian", 2): False, ("li", 0): False, ("li", 1): False, ("li", 2): False}
