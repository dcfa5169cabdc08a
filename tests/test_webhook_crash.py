"""Webhooks survive crashes: the delivery worker (`mtb webhooks deliver --watch`, a real process) is killed
with SIGKILL again and again while changes are committed and messages are in flight, then restarted. Every
message is delivered at least once, every delivery verifies with the Standard Webhooks reference verifier,
and a message delivered twice carries the same webhook-id and body both times. Run with `-s` for figures."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.abc import Process
from sqlalchemy import func, select

from mtb.settings import Settings
from mtb.webhooks.models import MessageStatus, WebhookMessage
from tests.applications.helpers import BEIJING_SELF, create
from tests.factories import Seed
from tests.webhooks.receiver import Receiver, allowing_private_addresses, receiver
from tests.webhooks.test_webhooks import endpoint

ROOT = Path(__file__).resolve().parents[1]
ROUNDS, CHANGES_PER_ROUND = 6, 8


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return allowing_private_addresses(monkeypatch)


async def start_worker(log: Path) -> Process:
    env = {**os.environ, "MTB_ENV": "development", "MTB_LOG_LEVEL": "WARNING", "MTB_WEBHOOK_POLL_SECONDS": "0.2",
           "MTB_WEBHOOK_TIMEOUT_SECONDS": "1", "MTB_WEBHOOK_BATCH": "3"}
    with log.open("ab") as out:
        return await anyio.open_process(
            [sys.executable, "-c", "from mtb.cli import main; main()", "webhooks", "deliver", "--watch"],
            env=env, stdout=out, stderr=out, cwd=ROOT)


async def kill(process: Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def counts(seed: Seed) -> Counter[str]:
    async with seed.sessionmaker() as s:
        return Counter(dict((await s.execute(select(WebhookMessage.status, func.count())
                                             .group_by(WebhookMessage.status))).all()))


async def change(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """One committed change that announces one event: a draft withdrawn."""
    draft = await create(client, headers, **BEIJING_SELF)
    assert draft.status_code == 201, draft.text
    withdrawn = await client.post(f"/api/v1/applications/{draft.json()['id']}/withdraw", headers=headers)
    assert withdrawn.status_code == 200, withdrawn.text


async def wait_for_new_request(r: Receiver, seen: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while len(r.received) <= seen and time.monotonic() < deadline:
        await anyio.sleep(0.02)


async def test_killed_workers_lose_no_event(client: httpx.AsyncClient, seed: Seed, settings: Settings,
                                            tmp_path: Path) -> None:
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    log = tmp_path / "worker.log"
    kills_in_flight = 0
    with receiver() as r:
        hook = await endpoint(seed, r.url, events=["application.withdrawn"])
        r.statuses = []
        for round_ in range(ROUNDS):
            # Committed while no worker runs: waits in the outbox.
            await change(client, headers)
            worker = await start_worker(log)
            try:
                for _ in range(CHANGES_PER_ROUND):
                    await change(client, headers)
                # The endpoint holds this round's first request until the worker is dead: killed mid-send,
                # after taking the message and before writing the outcome.
                if round_ % 2 == 0:
                    r.hold.clear()
                seen = len(r.received)
                await wait_for_new_request(r, seen, limit=20)
                if len(r.received) > seen:
                    kills_in_flight += 1
            finally:
                await kill(worker)
                r.hold.set()
        written = sum((await counts(seed)).values())
        assert written == ROUNDS * (CHANGES_PER_ROUND + 1)
        # A last worker, left to finish: leases of the killed ones run out and their messages go again.
        worker = await start_worker(log)
        try:
            with anyio.fail_after(120):
                while (await counts(seed))[MessageStatus.delivered.value] < written:
                    await anyio.sleep(0.2)
        finally:
            worker.terminate()
            await worker.wait()

    async with seed.sessionmaker() as s:
        ids = set((await s.execute(select(WebhookMessage.id))).scalars())
    by_id: dict[str, list[bytes]] = {}
    for delivery in r.received:
        assert delivery.verified(hook["secret"])["type"] == "application.withdrawn"
        by_id.setdefault(delivery.id, []).append(delivery.body)
    assert set(by_id) == ids  # every message delivered at least once, nothing else delivered
    assert all(len(set(bodies)) == 1 for bodies in by_id.values())  # a duplicate is the same message
    duplicates = sum(len(b) - 1 for b in by_id.values())
    assert kills_in_flight >= ROUNDS // 2 and duplicates >= 1  # the crash really hit messages in flight
    print(f"\nwebhook crash test: {ROUNDS} workers killed ({kills_in_flight} with a delivery in flight), "
          f"{written} messages, {len(r.received)} deliveries, {duplicates} duplicates, 0 lost, all signatures "
          f"verified")
