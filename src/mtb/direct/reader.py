"""The connection the hot reads use, for SQLite and PostgreSQL, with the conversions between what the
driver returns and what the ORM would have returned (SQLAlchemy's `Uuid`, `UTCDateTime`, `Date` and
`JSON` columns are stored as text on SQLite and natively on PostgreSQL).

Statements are SQLAlchemy Core selects (direct/statements.py), compiled once per dialect; rows come back
as namedtuples of the select's column keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import make_url

from mtb.direct.statements import Statement
from mtb.errors import Unprocessable
from mtb.outage import CONNECT_TIMEOUT_SECONDS, failure_of

log = logging.getLogger("mtb.app")


def _unavailable(exc: Exception) -> Exception:
    """A failure of the database (outage.py) as the answer it gets (503 database_unavailable, 507
    disk_full); any other exception as it is."""
    failure = failure_of(exc)
    return exc if failure is None else failure


class DirectReader(Protocol):
    dialect: str  # the name a Statement is compiled for: "sqlite" or "postgresql"

    async def all(self, statement: Statement, params: Mapping[str, Any]) -> list[Any]:
        """The statement's rows (namedtuples of its column keys) for its named parameters."""
        ...

    async def many(self, queries: Sequence[tuple[Statement, Mapping[str, Any]]]) -> list[list[Any]]:
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

    dialect = "sqlite"

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

    async def all(self, statement: Statement, params: Mapping[str, Any]) -> list[Any]:
        c = statement.compiled("sqlite")
        try:
            rows = self.conn.execute(c.sql, c.args(params)).fetchall()
        except sqlite3.OperationalError as exc:
            raise _unavailable(exc) from exc
        make = c.row
        return [make(r) for r in rows]

    async def many(self, queries: Sequence[tuple[Statement, Mapping[str, Any]]]) -> list[list[Any]]:
        return [await self.all(statement, params) for statement, params in queries]

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
    """asyncpg connections per event loop (connections belong to the loop that opened them: tests drive
    one app from several loops). asyncpg, not psycopg, because its per-statement cost is a third of
    psycopg's (docs/benchmarks.md). Statements are prepared and cached per connection; behind a
    transaction-pooling pgbouncer older than 1.21 set `prepare=False` (a prepared statement lives on
    one server connection)."""

    dialect = "postgresql"

    def __init__(self, dsn: str, *, size: int, prepare: bool) -> None:
        self.dsn, self.size = dsn, size
        self.cache_size = 256 if prepare else 0
        self._pools: dict[asyncio.AbstractEventLoop, asyncio.Task[Connections]] = {}

    async def _pool(self) -> Connections:
        """The loop's connections, opened by the first request all at once: the requests that arrive
        meanwhile wait for that one opening (not for connections opened one by one under load, which
        showed as a p99 of 0.5–1 s in a 10 s benchmark)."""
        loop = asyncio.get_running_loop()
        opening = self._pools.get(loop)
        if opening is None:
            for old in [lp for lp in self._pools if lp.is_closed()]:
                del self._pools[old]
            opening = self._pools[loop] = loop.create_task(Connections.open(self.dsn, self.size, self.cache_size))
        try:
            return await asyncio.shield(opening)
        except BaseException:
            if opening.done() and (opening.cancelled() or opening.exception() is not None):
                self._pools.pop(loop, None)  # the next request tries again
            raise

    async def all(self, statement: Statement, params: Mapping[str, Any]) -> list[Any]:
        return (await self.many([(statement, params)]))[0]

    async def many(self, queries: Sequence[tuple[Statement, Mapping[str, Any]]]) -> list[list[Any]]:
        """A server that is down, restarting or cut off answers 503 (outage.py); the connection that saw it
        is replaced at its next use (Connections.fetch)."""
        compiled = [(statement.compiled("postgresql"), params) for statement, params in queries]
        try:
            return await (await self._pool()).fetch([(c.sql, c.args(params), c.row) for c, params in compiled])
        except asyncpg.DataError as exc:  # text PostgreSQL refuses (a NUL byte): the session path's answer (app.py)
            log.warning("input refused by the database", extra={"error": type(exc).__name__})
            raise Unprocessable("invalid_text", "输入内容包含无法处理的字符，请检查后重试") from exc
        except Exception as exc:
            raise _unavailable(exc) from exc

    def uuid_param(self, value: uuid.UUID) -> Any:
        return value

    def date_param(self, value: date) -> Any:
        return value

    def datetime_param(self, value: datetime) -> Any:
        return value

    async def close(self) -> None:
        """Close the running loop's connections (those of loops already gone are dropped)."""
        opening = self._pools.pop(asyncio.get_running_loop(), None)
        if opening is not None:
            try:
                connections = await opening
            except Exception:  # noqa: BLE001, S110  (they never opened: nothing to close)
                pass
            else:
                await connections.close()
        self._pools = {lp: p for lp, p in self._pools.items() if not lp.is_closed()}


class Connections:
    """A fixed set of asyncpg connections and the line requests wait in for one.

    Not asyncpg's pool: its acquire and release do more per request than a list (timeouts, a reset hook,
    holder bookkeeping), and its wait let a newcomer take a connection released for a request woken before
    it, which then waited again at the back (docs/benchmarks.md §4 has the figures). Here a FIFO semaphore serves requests in order and lets no more
    in than there are connections. The connections only read, in autocommit, and never change session
    state, so nothing is reset between uses. A statement that fails or is cancelled (the client went
    away) may leave its connection mid-protocol: that connection is closed, and the next request to take
    it opens a new one (also after a server restart).
    """

    def __init__(self, dsn: str, cache_size: int, connections: list[asyncpg.Connection]) -> None:
        self.dsn, self.cache_size = dsn, cache_size
        self._free = connections
        self._turn = asyncio.Semaphore(len(connections))

    @classmethod
    async def open(cls, dsn: str, size: int, cache_size: int) -> Connections:
        connections = await asyncio.gather(*(cls._connect(dsn, cache_size) for _ in range(size)),
                                           return_exceptions=True)
        opened = [c for c in connections if isinstance(c, asyncpg.Connection)]
        if len(opened) < size:
            await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)
            raise next(c for c in connections if isinstance(c, BaseException))
        return cls(dsn, cache_size, opened)

    @staticmethod
    async def _connect(dsn: str, cache_size: int) -> asyncpg.Connection:
        return await asyncpg.connect(dsn, statement_cache_size=cache_size, timeout=CONNECT_TIMEOUT_SECONDS)

    async def fetch(self, queries: Sequence[tuple[str, Sequence[Any], Callable[[Any], Any]]]) -> list[list[Any]]:
        """Each statement's rows (each made by its `row`), on one connection, in order."""
        async with self._turn:
            conn = self._free.pop()
            try:
                if conn.is_closed():
                    conn = await self._connect(self.dsn, self.cache_size)
                return [[row(r) for r in await conn.fetch(sql, *params)] for sql, params, row in queries]
            except BaseException:
                if not conn.is_closed():
                    conn.terminate()
                raise
            finally:
                self._free.append(conn)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._free if not c.is_closed()), return_exceptions=True)


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
