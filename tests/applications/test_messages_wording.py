"""Messages about an application are worded from each reader's side: the person it is for reads "您的…申请",
an agent who filed it for them "您为<relation>代办的…申请" (the relation as the agent chose it on the page:
参保人是您的父母 → 您为父母代办的), for every relation and every status change a person is told about."""

from __future__ import annotations

import httpx
import pytest

from mtb.applications.schemas import RELATION_LABELS, Relation
from mtb.identity.models import StaffRole
from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, submit, upload_all
from tests.factories import Seed
from tests.review.helpers import claim, decide

AGENT_RELATIONS = [r.value for r in Relation if r.value != "self"]


@pytest.mark.parametrize("relation", AGENT_RELATIONS)
async def test_the_agent_and_the_beneficiary_each_read_it_from_their_side(
        client: httpx.AsyncClient, seed: Seed, relation: str) -> None:
    await seed.catalogs()
    zhang, wang = await seed.person("zhang"), await seed.person("wang")
    agent, beneficiary = await seed.login(wang), await seed.login(zhang)
    reviewer = await seed.staff_login(await seed.staff("bj_reviewer", StaffRole.reviewer))
    made = await create(client, agent, **BEIJING_SELF, beneficiary=zhang.credentials() | {"relation": relation})
    assert made.status_code == 201, made.text
    app_id = made.json()["id"]
    await upload_all(client, agent, app_id, BEIJING_MATERIALS)
    assert (await submit(client, agent, app_id)).status_code == 200
    assert (await claim(client, reviewer, app_id)).status_code == 200
    assert (await decide(client, reviewer, app_id, "return",
                         [{"code": "material_unclear", "detail": "看不清"}])).status_code == 200
    for_agent = (await client.get("/api/v1/notifications", headers=agent)).json()
    for_beneficiary = (await client.get("/api/v1/notifications", headers=beneficiary)).json()
    kinds = {"application_submitted", "application_returned"}
    assert {m["kind"] for m in for_agent} >= kinds and {m["kind"] for m in for_beneficiary} >= kinds
    for m in for_agent:
        if m["kind"] in kinds:
            assert m["body"].startswith(f"您为{RELATION_LABELS[relation]}代办的"), m["body"]
    for m in for_beneficiary:
        if m["kind"] in kinds:
            assert m["body"].startswith("您的") and "代办" not in m["body"], m["body"]


async def test_one_filing_for_oneself_reads_as_ones_own(client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    zhang = await seed.person("zhang")
    own = await seed.login(zhang)
    made = await create(client, own, **BEIJING_SELF)
    app_id = made.json()["id"]
    await upload_all(client, own, app_id, BEIJING_MATERIALS)
    assert (await submit(client, own, app_id)).status_code == 200
    messages = [m for m in (await client.get("/api/v1/notifications", headers=own)).json()
                if m["kind"] == "application_submitted"]
    assert len(messages) == 1 and messages[0]["body"].startswith("您的") and "代办" not in messages[0]["body"]
