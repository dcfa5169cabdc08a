"""Delivering the outbox: take due messages, send each signed, log the attempt, retry with backoff.

A message is taken by moving its `next_attempt_at` a lease ahead in a short transaction of its own (rows
picked with `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), then sent outside any
transaction, then its outcome is written. A worker killed after taking a message leaves it to be taken
again when the lease ends: every message is delivered at least once, always with the same `webhook-id`
and body (receivers drop duplicates by `webhook-id`). Requests never deliver: a slow or failing endpoint
delays only this worker.

Each attempt goes only where destination.py allows: the host is resolved again, every address checked,
and the request sent to a checked address itself (never followed through a redirect). An attempt refused
there (`webhook_url_forbidden`, e.g. a name that now resolves to a private address) is logged and the
message is `failed` at once: retrying would only probe the same address again. A name that does not
resolve is an ordinary failed attempt, retried like an endpoint that is down.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from mtb.errors import Unprocessable
from mtb.settings import Settings
from mtb.timeutil import utcnow
from mtb.wake import webhooks as webhooks_wake
from mtb.webhooks.destination import FORBIDDEN, pinned_request, vet
from mtb.webhooks.models import MessageStatus, WebhookAttempt, WebhookEndpoint, WebhookMessage

log = logging.getLogger("mtb.webhooks")

# Waits before the 2nd, 3rd, ... attempt; the last one repeats (about two days over 12 attempts).
BACKOFF_SECONDS = (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
USER_AGENT = "MTB-Webhooks/1"


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return timedelta(seconds=BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])


@dataclass(frozen=True)
class Taken:
    id: str
    attempt: int
    url: str
    secret: str
    body: str


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    error: str | None = None  # None: delivered
    final: bool = False  # no further attempt (the destination was refused)


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0  # attempts that failed (the message may be retried)


async def take_due(session: AsyncSession, *, now: datetime, limit: int, lease: timedelta) -> list[Taken]:
    """Due pending messages of active endpoints, leased to this worker (the caller commits)."""
    rows = (await session.execute(
        select(WebhookMessage.id, WebhookMessage.attempts, WebhookEndpoint.url, WebhookEndpoint.secret,
               WebhookMessage.body)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .where(WebhookMessage.status == MessageStatus.pending.value, WebhookMessage.next_attempt_at <= now,
               WebhookEndpoint.active.is_(True))
        .order_by(WebhookMessage.next_attempt_at).limit(limit)
        .with_for_update(skip_locked=True, of=WebhookMessage))).all()
    taken = []
    for message_id, attempts, url, secret, body in rows:
        # Conditional: on SQLite a second worker's pick may have read the row before this one's lease.
        result = await session.execute(
            update(WebhookMessage).where(WebhookMessage.id == message_id, WebhookMessage.attempts == attempts,
                                         WebhookMessage.status == MessageStatus.pending.value)
            .values(attempts=attempts + 1, next_attempt_at=now + lease)
            .execution_options(synchronize_session=False))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            taken.append(Taken(message_id, attempts + 1, url, secret, body))
    return taken


def signed_headers(message_id: str, secret: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers. The timestamp is the attempt's, by the wall clock the receiver
    compares it with (not MTB's business clock, which tests may stop)."""
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, at, body.encode()),
            "content-type": "application/json", "user-agent": USER_AGENT}


async def _send(client: httpx.AsyncClient, taken: Taken, *, allow_private: bool) -> Outcome:
    """One attempt: check where the URL leads now, then POST to a checked address (the next one only if
    the connection could not be made)."""
    try:
        destination = await vet(taken.url, allow_private=allow_private)
    except Unprocessable as exc:
        return Outcome(error=f"{exc.code}: {exc.detail}"[:300], final=exc.code == FORBIDDEN)
    headers = signed_headers(taken.id, taken.secret, taken.body, datetime.now(UTC))
    error = "no address"  # not met: vet answers at least one address
    for address in destination.addresses:
        request = pinned_request(client, destination, address, content=taken.body.encode(), headers=headers)
        try:
            response = await client.send(request, follow_redirects=False)
        except httpx.ConnectError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            continue
        except httpx.HTTPError as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc}"[:300])
        if 200 <= response.status_code < 300:
            return Outcome(response.status_code)
        if response.is_redirect:
            return Outcome(response.status_code, f"HTTP {response.status_code} (redirect not followed)")
        return Outcome(response.status_code, f"HTTP {response.status_code}")
    return Outcome(error=error)


async def _record(session: AsyncSession, taken: Taken, outcome: Outcome, max_attempts: int) -> bool:
    now = utcnow()
    session.add(WebhookAttempt(message_id=taken.id, attempt=taken.attempt, attempted_at=now,
                               status_code=outcome.status_code, error=outcome.error))
    if outcome.error is None:
        values = {"status": MessageStatus.delivered.value, "delivered_at": now}
    elif outcome.final or taken.attempt >= max_attempts:
        values = {"status": MessageStatus.failed.value}
    else:
        values = {"next_attempt_at": now + backoff(taken.attempt)}
    # Only while still this attempt's: a redelivery asked for meanwhile keeps its own schedule.
    await session.execute(update(WebhookMessage).where(
        WebhookMessage.id == taken.id, WebhookMessage.attempts == taken.attempt,
        WebhookMessage.status == MessageStatus.pending.value).values(**values)
        .execution_options(synchronize_session=False))
    return outcome.error is None


async def deliver_due(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *,
                      client: httpx.AsyncClient | None = None) -> DeliveryReport:
    """Deliver every message due now, in batches, until none is due; each outcome committed as it comes."""
    report = DeliveryReport()
    own = client is None
    client = client or httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
    # Longer than a batch can take (its sends run at once, each within the DNS limit of destination.py and the
    # timeout, then one write each).
    lease = timedelta(seconds=settings.webhook_timeout_seconds * 2 + 5)
    try:
        while True:
            async with sessionmaker() as session, session.begin():
                batch = await take_due(session, now=utcnow(), limit=settings.webhook_batch, lease=lease)
            if not batch:
                return report

            async def one(taken: Taken) -> None:
                outcome = await _send(client, taken, allow_private=settings.webhook_allow_private)
                async with sessionmaker() as session, session.begin():
                    ok = await _record(session, taken, outcome, settings.webhook_max_attempts)
                if ok:
                    report.delivered += 1
                else:
                    report.failed += 1
                    log.warning("webhook attempt failed", extra={"message_id": taken.id, "attempt": taken.attempt,
                                                                 "error": outcome.error})

            await asyncio.gather(*(one(t) for t in batch))
    finally:
        if own:
            await client.aclose()


async def worker(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """The in-process worker of `mtb serve` and `mtb webhooks deliver --watch`: deliver what is due, then
    wait to be kicked by a commit in this process or for the poll interval (other processes' messages,
    retries)."""
    event = webhooks_wake.listen()
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client:
        while True:
            event.clear()
            try:
                await deliver_due(sessionmaker, settings, client=client)
            except Exception:
                log.exception("webhook delivery failed; will try again")
            try:
                await asyncio.wait_for(event.wait(), timeout=settings.webhook_poll_seconds)
            except TimeoutError:
                pass
