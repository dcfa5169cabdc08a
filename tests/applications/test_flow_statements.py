"""The statements of a submission flow (create, two uploads, submit: the benchmark's, bench/run.py (f)),
counted per request, so that a change that adds one is noticed (issue 18, item 8; bench/flow_statements.py
measures the same with its CPU). Counted are the statements proper of the request's session and of the
counters' pool, not BEGIN/COMMIT; the second flow of the app is counted, after a first one has loaded
the catalog document and the calendar as a running server has."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, submit, upload
from tests.factories import Seed
from tests.files import pdf

# At most this many per request (the counters' upsert of the upload rate included in each upload).
LIMITS = {"create": 5, "upload": 8, "submit": 13}
FLOW_LIMIT = LIMITS["create"] + 2 * LIMITS["upload"] + LIMITS["submit"]  # 34; 43 before issue 18, item 8


class Statements:
    def __init__(self) -> None:
        self.step = ""
        self.counts: Counter[str] = Counter()
        self.texts: dict[str, list[str]] = {}

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.counts[self.step] += 1
        self.texts.setdefault(self.step, []).append(" ".join(statement.split())[:160])

    def shown(self, step: str) -> str:
        return "\n".join(self.texts.get(step, []))


@contextmanager
def counted(app: FastAPI) -> Iterator[Statements]:
    seen = Statements()
    engines = [app.state.engine.sync_engine, app.state.counters.kw["bind"].sync_engine]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)


async def flow(client: httpx.AsyncClient, headers: dict[str, str], seen: Statements | None = None) -> dict[str, Any]:
    """The benchmark's flow; each step's answer checked. Returns the create's and the submit's answers."""
    def step(name: str) -> None:
        if seen is not None:
            seen.step = name
    step("create")
    created = await create(client, headers, **BEIJING_SELF)
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    for n, kind in enumerate(BEIJING_MATERIALS):
        step(f"upload {n + 1}")
        response = await upload(client, headers, app_id, kind, pdf(2), name=f"{kind}.pdf")
        assert response.status_code == 201, response.text
    step("submit")
    submitted = await submit(client, headers, app_id)
    assert submitted.status_code == 200, submitted.text
    step("")
    return {"created": created.json(), "submitted": submitted.json()}


async def test_a_submission_flow_sends_at_most_its_statements(
        app_and_client: tuple[FastAPI, httpx.AsyncClient], seed: Seed) -> None:
    app, client = app_and_client
    await seed.catalogs()
    await flow(client, await seed.login(await seed.person("li")))  # warms the caches a server has warm
    zhang = await seed.login(await seed.person("zhang"))
    with counted(app) as seen:
        await flow(client, zhang, seen)
    for step in ("create", "upload 1", "upload 2", "submit"):
        limit = LIMITS[step.split()[0]]
        assert seen.counts[step] <= limit, f"{step}: {seen.counts[step]} statements (at most {limit}):\n" \
                                           + seen.shown(step)
    assert sum(seen.counts.values()) <= FLOW_LIMIT


async def test_the_answers_built_from_what_the_request_knows_are_those_a_read_gives(
        client: httpx.AsyncClient, seed: Seed) -> None:
    """The create answers from the draft it made (no materials, no decisions, one timeline entry) and the
    submit from the materials its checks read: both equal a read of the application right after."""
    await seed.catalogs()
    zhang = await seed.login(await seed.person("zhang"))
    created = await create(client, zhang, **BEIJING_SELF)
    assert created.status_code == 201
    app_id = created.json()["id"]
    assert created.json() == (await client.get(f"/api/v1/applications/{app_id}", headers=zhang)).json()
    assert created.json()["timeline"][0]["to_status"] == "draft" and created.json()["materials"] == []
    for kind in BEIJING_MATERIALS:
        assert (await upload(client, zhang, app_id, kind, pdf(2), name=f"{kind}.pdf")).status_code == 201
    submitted = await submit(client, zhang, app_id)
    assert submitted.status_code == 200
    assert submitted.json() == (await client.get(f"/api/v1/applications/{app_id}", headers=zhang)).json()
    assert [m["kind"] for m in submitted.json()["materials"]] == BEIJING_MATERIALS
    assert [e["to_status"] for e in submitted.json()["timeline"]] == ["draft", "submitted"]
