"""The connection the hot reads use, for SQLite and PostgreSQL, with the conversions between what the
driver returns and what the ORM would have returned (SQLAlchemy's `Uuid`, `UTCDateTime`, `Date` and
`JSON` columns are stored as text on SQLite and natively on PostgreSQL).

Statements are written once with `?` placeholders; the PostgreSQL reader turns them into `%s`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import make_url


class DirectReader(Protocol):
    async def all(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    async def many(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
        """Several statements on one connection, answered in order."""
        ...

    def uuid_param(self, value: uuid.UUID) -> Any: ...

    def date_param(self, value: date) -> Any: ...

    def datetime_param(self, value: datetime) -> Any: ...

    async def close(self) -> None: ...


def as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)


def as_uuid_or_none(value: Any) -> uuid.UUID | None:
    return None if value is None else as_uuid(value)


def as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def as_datetime_or_none(value: Any) -> datetime | None:
    return None if value is None else as_datetime(value)


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def as_date_or_none(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


class SqliteReader:
    """One connection in autocommit mode, used from the event loop: each statement reads the latest
    committed data, and under WAL a reader never waits for a writer."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """Opened at first use: the app may be made before the database file is migrated."""
        if self._conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            self._conn = conn
        return self._conn

    async def all(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    async def many(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
        conn = self.conn
        return [conn.execute(sql, tuple(params)).fetchall() for sql, params in queries]

    def uuid_param(self, value: uuid.UUID) -> Any:
        return value.hex

    def date_param(self, value: date) -> Any:
        return value.isoformat()

    def datetime_param(self, value: datetime) -> Any:
        """As SQLAlchemy stores a UTCDateTime on SQLite (UTC, no zone, microseconds)."""
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PostgresReader:
    """An asyncpg pool per event loop (a pool belongs to the loop that opened it: tests drive one app from
    several loops). asyncpg, not psycopg, because its per-statement cost is a third of psycopg's
    (docs/benchmarks.md). Statements are prepared and cached per connection; behind a
    transaction-pooling pgbouncer older than 1.21 set `prepare=False` (a prepared statement lives on
    one server connection)."""

    def __init__(self, dsn: str, *, size: int, prepare: bool) -> None:
        self.dsn, self.size = dsn, size
        self.cache_size = 256 if prepare else 0
        self._pools: dict[asyncio.AbstractEventLoop, asyncio.Task[tuple[asyncpg.Pool, asyncio.Semaphore]]] = {}
        self._sql: dict[str, str] = {}

    def _pg(self, sql: str) -> str:
        """`?` placeholders as asyncpg's `$1, $2, ...`."""
        converted = self._sql.get(sql)
        if converted is None:
            parts = sql.split("?")
            converted = self._sql[sql] = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
        return converted

    async def _pool(self) -> tuple[asyncpg.Pool, asyncio.Semaphore]:
        """The loop's pool, opened by the first request with all its connections at once: the requests that
        arrive meanwhile wait for that one opening (not for connections opened one by one under load,
        which showed as a p99 of 0.5–1 s in a 10 s benchmark)."""
        loop = asyncio.get_running_loop()
        opening = self._pools.get(loop)
        if opening is None:
            for old in [lp for lp in self._pools if lp.is_closed()]:
                del self._pools[old]
            opening = self._pools[loop] = loop.create_task(self._open())
        try:
            return await asyncio.shield(opening)
        except BaseException:
            if opening.done() and (opening.cancelled() or opening.exception() is not None):
                self._pools.pop(loop, None)  # the next request tries again
            raise

    async def all(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        pool, turn = await self._pool()
        async with turn, pool.acquire() as conn:
            return [tuple(r) for r in await conn.fetch(self._pg(sql), *params)]

    async def many(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
        pool, turn = await self._pool()
        async with turn, pool.acquire() as conn:
            return [[tuple(r) for r in await conn.fetch(self._pg(sql), *params)] for sql, params in queries]

    def uuid_param(self, value: uuid.UUID) -> Any:
        return value

    def date_param(self, value: date) -> Any:
        return value

    def datetime_param(self, value: datetime) -> Any:
        return value

    async def _open(self) -> tuple[asyncpg.Pool, asyncio.Semaphore]:
        """The pool, and the line requests wait in for one of its connections. asyncpg's own wait lets a
        newcomer take a connection released for a request woken before it, which then waits again at
        the back: under load a few requests waited 0.5–1 s while the median was 3 ms. The semaphore
        serves them in order and lets no more in than there are connections."""
        pool = await asyncpg.create_pool(self.dsn, min_size=self.size, max_size=self.size,
                                         statement_cache_size=self.cache_size, reset=_keep_session)
        return pool, asyncio.Semaphore(self.size)

    async def close(self) -> None:
        """Close the pool of the running loop (pools of loops already gone are dropped)."""
        opening = self._pools.pop(asyncio.get_running_loop(), None)
        if opening is not None:
            try:
                pool, _turn = await opening
            except Exception:  # it never opened: nothing to close
                pass
            else:
                await pool.close()
        self._pools = {lp: p for lp, p in self._pools.items() if not lp.is_closed()}


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Nothing to reset between uses: these connections only read, in autocommit, and never change
    session state (asyncpg's default reset costs a round trip per request)."""


def make_reader(database_url: str, *, pool_size: int = 4, prepare: bool = True) -> DirectReader:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return SqliteReader(url.database or ":memory:")
    if backend == "postgresql":
        # Keep `?host=/var/run/postgresql` (a Unix socket: no TCP round trip on the same host) and the
        # connection options libpq and asyncpg share (sslmode, application_name, ...).
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresReader(dsn, size=pool_size, prepare=prepare)
    raise ValueError(f"no direct reader for {backend}")
