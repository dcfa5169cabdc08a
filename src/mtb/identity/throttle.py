"""Login throttling: too many failures → 429 for a while, on counters that a stranger cannot use to lock
someone else out.

Failures are counted per (ID number or username, who is trying) with the small limit
(MTB_LOGIN_MAX_FAILURES): someone who knows an ID number and guesses from their own device blocks only
themselves. Per ID number or username from everyone together with a larger one
(MTB_LOGIN_MAX_FAILURES_PER_ACCOUNT), against guessing spread over many addresses; and per client address
(MTB_LOGIN_MAX_FAILURES_PER_CLIENT), against one address guessing many numbers. A window clerk entering a
paper application is counted on their own counters only (per ID number and clerk, and per clerk): what
others did never blocks their entry. A failed attempt answers how many remain before a block.

Counters live in the database so every worker shares them, and are written in their own short
transaction: the request that failed rolls back, its failure must not.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from sqlalchemy import case
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.errors import TooManyRequests
from mtb.identity import idnumber
from mtb.identity.models import LoginThrottle
from mtb.settings import get_settings
from mtb.timeutil import utcnow


async def ensure_not_blocked(sessionmaker: async_sessionmaker[AsyncSession], keys: list[str]) -> None:
    now = utcnow()
    async with sessionmaker() as session:
        rows = [await session.get(LoginThrottle, key) for key in keys]
    waits = [(r.blocked_until - now).total_seconds() for r in rows
             if r is not None and r.blocked_until is not None and r.blocked_until > now]
    if waits:
        seconds = math.ceil(max(waits))
        minutes = max(1, math.ceil(seconds / 60))
        raise TooManyRequests("too_many_attempts", f"登录失败次数过多，请 {minutes} 分钟后再试",
                              extra={"retry_after": seconds}, headers={"Retry-After": str(seconds)})


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int


async def record_failures(sessionmaker: async_sessionmaker[AsyncSession], limits: list[Limit]) -> int:
    """Count one failure on each counter; the attempts left before the first of them blocks (0: blocked)."""
    return min([await record_failure(sessionmaker, lim.key, limit=lim.limit) for lim in limits])


def attempts_left(detail: str, remaining: int) -> str:
    """A refusal's message with what the person may still try (还可尝试 N 次), or the block."""
    if remaining > 0:
        return f"{detail}（还可尝试 {remaining} 次）"
    minutes = max(1, math.ceil(get_settings().login_block_seconds / 60))
    return f"{detail}。失败次数过多，请 {minutes} 分钟后再试"


async def record_failure(sessionmaker: async_sessionmaker[AsyncSession], key: str, *, limit: int) -> int:
    """Count one failure for `key`; the failures still allowed before a block (0 when this one blocked)."""
    settings = get_settings()
    for _attempt in range(3):
        now = utcnow()
        try:
            async with sessionmaker() as session, session.begin():
                row = await session.get(LoginThrottle, key, with_for_update=True)
                if row is None:
                    row = LoginThrottle(key=key, failures=0, window_started_at=now)
                    session.add(row)
                if row.window_started_at + timedelta(seconds=settings.login_window_seconds) < now:
                    row.failures, row.window_started_at = 0, now
                row.failures += 1
                remaining = max(0, limit - row.failures)
                if row.failures >= limit:
                    row.blocked_until = now + timedelta(seconds=settings.login_block_seconds)
                    row.failures, row.window_started_at = 0, now
            return remaining
        except IntegrityError:
            continue  # another worker inserted the same key first: count on its row
    return 0


async def count_within(sessionmaker: async_sessionmaker[AsyncSession], key: str, *, limit: int,
                       window_seconds: int, code: str, detail: str) -> None:
    """Allow `limit` events per window for `key` (e.g. uploads per minute per person), then 429.

    One statement: insert the counter or, if it exists, count one more (or start a new window), and read
    back the count. Concurrent requests of every worker count on the same row without a retry."""
    now = utcnow()
    table = LoginThrottle.__table__
    expired = LoginThrottle.window_started_at <= now - timedelta(seconds=window_seconds)
    async with sessionmaker() as session, session.begin():
        dialect = session.get_bind().dialect.name
        upsert = (sqlite_insert if dialect == "sqlite" else pg_insert)(table).values(
            key=key, failures=1, window_started_at=now)
        count, started = (await session.execute(upsert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"failures": case((expired, 1), else_=LoginThrottle.failures + 1),
                  "window_started_at": case((expired, now), else_=LoginThrottle.window_started_at)},
        ).returning(LoginThrottle.failures, LoginThrottle.window_started_at))).one()
    if count > limit:
        wait = max(1, math.ceil((started + timedelta(seconds=window_seconds) - now).total_seconds()))
        raise TooManyRequests(code, detail, extra={"retry_after": wait}, headers={"Retry-After": str(wait)})


async def clear(sessionmaker: async_sessionmaker[AsyncSession], key: str) -> None:
    async with sessionmaker() as session, session.begin():
        row = await session.get(LoginThrottle, key)
        if row is not None:
            await session.delete(row)


def _pair(account: str, who: str) -> str:
    """The counter of one account (an ID number's key, a username's) tried by one someone; fits the key
    column whatever the address."""
    return f"{account}@{hashlib.sha256(who.encode()).hexdigest()[:16]}"


def client_key(request: Request) -> str:
    return f"client:{request.client.host if request.client else 'unknown'}"


@dataclass(frozen=True)
class AccountGuard:
    """The counters of one kind of login (an ID number, a staff username) for one request."""

    sessionmaker: async_sessionmaker[AsyncSession]
    who: str  # the client address, or a window clerk (staff:<id>)
    client: str | None  # the client address counter; None for a clerk (their office shares the address)
    clerk: bool = False

    def limits(self, account: str) -> list[Limit]:
        settings = get_settings()
        own = [Limit(_pair(account, self.who), settings.login_max_failures)]
        if self.clerk:  # only the clerk's own counters: per (account, clerk) and per clerk
            return own + [Limit(f"{self.who}:entries", settings.login_max_failures_per_client)]
        shared = [Limit(account, settings.login_max_failures_per_account)]
        return own + shared + ([Limit(self.client, settings.login_max_failures_per_client)] if self.client else [])

    async def check(self, account: str) -> None:
        await ensure_not_blocked(self.sessionmaker, [lim.key for lim in self.limits(account)])

    async def fail(self, account: str) -> int:
        """Count the failure; how many attempts are left before a block (0: blocked now)."""
        return await record_failures(self.sessionmaker, self.limits(account))

    async def succeed(self, account: str) -> None:
        """The right credentials: the account's own counters start again (the client's does not)."""
        for lim in self.limits(account)[:1 if self.clerk else 2]:
            await clear(self.sessionmaker, lim.key)


@dataclass(frozen=True)
class IdentityGuard:
    """Throttles everything that checks name + ID number + card number against the registry (login, and
    naming a beneficiary), on shared counters: guessing through one door counts at the other (from the
    same client). A window clerk's entry counts on the clerk's own counters."""

    accounts: AccountGuard

    @staticmethod
    def for_request(request: Request, *, clerk_id: object | None = None) -> IdentityGuard:
        counters = request.app.state.counters
        if clerk_id is not None:
            return IdentityGuard(AccountGuard(counters, f"staff:{clerk_id}", None, clerk=True))
        client = client_key(request)
        return IdentityGuard(AccountGuard(counters, client, client))

    @property
    def client(self) -> str | None:
        return self.accounts.client

    def _id_key(self, id_number: str) -> str:
        return f"id:{idnumber.lookup_hash(idnumber.normalize(id_number))}"

    async def before(self, id_number: str) -> None:
        await self.accounts.check(self._id_key(id_number))

    async def failed(self, id_number: str) -> int:
        return await self.accounts.fail(self._id_key(id_number))

    async def succeeded(self, id_number: str) -> None:
        await self.accounts.succeed(self._id_key(id_number))


def staff_guard(request: Request) -> AccountGuard:
    """Staff logins: per (username, client), per username, per client."""
    client = client_key(request)
    return AccountGuard(request.app.state.counters, client, client)
