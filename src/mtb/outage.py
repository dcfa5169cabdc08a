"""Infrastructure failures as answers a client can act on, never a 500 or a hang.

- The database cannot be reached (PostgreSQL restarting or stopped, PgBouncer without a server
  connection to give, a connection cut mid-statement, the session pool with no connection free in time,
  SQLite locked past its busy timeout or failing to read its file): 503 `database_unavailable`.
- The disk is full (the upload spool, the local file store, the SQLite file, PostgreSQL's own disk):
  507 `disk_full`. Nothing was written: the request's transaction rolled back, its spooled file removed.
- Object storage failing is 503 `storage_unavailable` (materials/storage.py, StorageUnavailable).

Each carries `Retry-After`: the request may be sent again as it was (a submission with its
Idempotency-Key). `failure_of` recognises the failures in whatever wrapping they arrive: SQLAlchemy's
(`OperationalError`, `InterfaceError`, the pool's `TimeoutError`), psycopg's, asyncpg's (the direct
reader's), sqlite3's, or the operating system's (connection refused, no space left on device).
Connections are replaced by the layer that holds them: SQLAlchemy invalidates a connection that failed
and pings one before handing it out (db.py, `pool_pre_ping`); the direct reader closes a connection whose
statement failed and opens a new one for the next request (direct/reader.py).
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

import asyncpg
import psycopg
from sqlalchemy import exc as sa_exc

from mtb.errors import MTBError

# How long a client should wait before trying again: a restart takes seconds; space has to be freed by
# someone, so that one is a minute.
DATABASE_RETRY_SECONDS = 5
DISK_FULL_RETRY_SECONDS = 60
# How long a connection attempt may take (PostgreSQL or PgBouncer, psycopg and asyncpg alike), and how
# long a request waits for a connection of the session pool before it is answered 503. Both well under
# nginx's proxy_read_timeout (10 s, deploy/nginx.conf.example): a request held longer would be a timeout
# there, which counts against the process (and could take every process out of the upstream).
CONNECT_TIMEOUT_SECONDS = 5
POOL_TIMEOUT_SECONDS = 5

_SQLITE_FULL = 13  # SQLITE_FULL
_SQLITE_UNAVAILABLE = frozenset({5, 6, 10, 14})  # BUSY, LOCKED, IOERR, CANTOPEN
_PG_DISK_FULL = frozenset({"53100"})
# Connection exceptions (08), shutdown or restart under way (57P01-57P03), too many connections (53300),
# PostgreSQL's own I/O errors (58).
_PG_UNAVAILABLE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300", "58")


class DatabaseUnavailable(MTBError):
    status_code = 503

    def __init__(self) -> None:
        super().__init__("database_unavailable", "数据库暂时不可用，请稍后再试",
                         headers={"Retry-After": str(DATABASE_RETRY_SECONDS)})


class DiskFull(MTBError):
    status_code = 507

    def __init__(self) -> None:
        super().__init__("disk_full", "服务器存储空间不足，本次内容未保存，请稍后再试",
                         headers={"Retry-After": str(DISK_FULL_RETRY_SECONDS)})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (SQLAlchemy's `.orig`) and what it was raised from, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([getattr(current, "orig", None), current.__cause__])


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else None


def _one(exc: BaseException) -> type[MTBError] | None:
    if isinstance(exc, DatabaseUnavailable | DiskFull):
        return type(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        message = str(exc)
        if code == _SQLITE_FULL or "database or disk is full" in message:
            return DiskFull
        if code in _SQLITE_UNAVAILABLE or "database is locked" in message or "disk I/O error" in message:
            return DatabaseUnavailable
        return None
    state = _sqlstate(exc)
    if state in _PG_DISK_FULL:
        return DiskFull
    if state is not None and state.startswith(_PG_UNAVAILABLE_PREFIXES):
        return DatabaseUnavailable
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) and state is None:
        return DatabaseUnavailable  # no connection (refused, closed, PgBouncer's own refusals)
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.PostgresConnectionError):
        return DatabaseUnavailable
    if isinstance(exc, asyncpg.exceptions.InternalClientError):  # a connection left mid-protocol by a cut
        return DatabaseUnavailable
    if isinstance(exc, ConnectionError | TimeoutError):  # refused, reset; a connect that timed out
        return DatabaseUnavailable
    if isinstance(exc, sa_exc.TimeoutError):  # the session pool had no connection free in time
        return DatabaseUnavailable
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailable
    return None


def failure_of(exc: BaseException) -> MTBError | None:
    """The answer for an infrastructure failure found in `exc` or what it wraps; None for anything else
    (a bug, a constraint violation: those keep their own handling)."""
    for current in _chain(exc):
        kind = _one(current)
        if kind is not None:
            if isinstance(current, kind):
                return current
            failure = kind()
            failure.__cause__ = current
            return failure
    return None


def dependency_of(failure: MTBError) -> str:
    """The label an operator sees in logs and metrics."""
    return {"database_unavailable": "database", "disk_full": "disk", "storage_unavailable": "storage"}.get(
        failure.code, failure.code)
