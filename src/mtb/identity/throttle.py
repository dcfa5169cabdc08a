"""Login throttling: too many failures for one ID number, username or client → 429 for a while.

Counters live in the database so every worker shares them, and are written in their own short
transaction: the request that failed rolls back, its failure must not.
"""

from __future__ import annotations

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


async def record_failure(sessionmaker: async_sessionmaker[AsyncSession], key: str, *, limit: int) -> None:
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
                if row.failures >= limit:
                    row.blocked_until = now + timedelta(seconds=settings.login_block_seconds)
                    row.failures, row.window_started_at = 0, now
            return
        except IntegrityError:
            continue  # another worker inserted the same key first: count on its row


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


@dataclass(frozen=True)
class IdentityGuard:
    """Throttles everything that checks name + ID number + card number against the registry (login, and
    naming a beneficiary), on shared counters: guessing through one door counts at the other."""

    sessionmaker: async_sessionmaker[AsyncSession]
    client: str

    @staticmethod
    def for_request(request: Request) -> IdentityGuard:
        return IdentityGuard(request.app.state.counters,
                             f"client:{request.client.host if request.client else 'unknown'}")

    def _id_key(self, id_number: str) -> str:
        return f"id:{idnumber.lookup_hash(idnumber.normalize(id_number))}"

    async def before(self, id_number: str) -> None:
        await ensure_not_blocked(self.sessionmaker, [self._id_key(id_number), self.client])

    async def failed(self, id_number: str) -> None:
        settings = get_settings()
        await record_failure(self.sessionmaker, self._id_key(id_number), limit=settings.login_max_failures)
        await record_failure(self.sessionmaker, self.client, limit=settings.login_max_failures_per_client)

    async def succeeded(self, id_number: str) -> None:
        await clear(self.sessionmaker, self._id_key(id_number))
