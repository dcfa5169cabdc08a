"""SQLite statements run on the event loop's thread; only the calls that can wait go to a thread.

aiosqlite runs every call of a connection (cursor, execute, fetch, close: four or five per statement) on
the connection's own thread and hands each result back through the event loop. Every hand-off suspends
the request's coroutine and resumes it through all of the middleware frames above it. At the 50
statements of a submission flow (create, two uploads, submit) that was a quarter of the server's CPU:
statements that read pages already in memory take microseconds, less than the hand-off itself.

`LoopConnection` is aiosqlite's connection with one change: a call runs inline unless it can wait on
something other than the CPU, which goes to the connection's thread as before:

- the first INSERT/UPDATE/DELETE/REPLACE of a transaction: it takes SQLite's write lock and may wait in
  the busy handler for a writer of another process (`busy_timeout`; writers of this process queue at
  the write gate first, sqlite_gate.py);
- COMMIT: it syncs the write-ahead log to disk (`synchronous=FULL`) and now and then checkpoints;
- a statement marked `OFF_LOOP` (see `off_loop`): a read that scans many rows (the metrics' queue count,
  the statistics page), which would otherwise hold up every other request while it runs.

A read in WAL mode does not wait for writers, and a write inside a transaction that already holds the
lock does not wait either. A statement that still takes long on the loop (a scan nobody marked) is logged
as a warning, `slow SQLite statement on the event loop`, with its text: index it or mark it.
`MTB_SQLITE_INLINE=false` puts every call back on the thread (plain aiosqlite).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

# A statement that takes SQLite's write lock when it starts a transaction.
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
OFF_LOOP = "/* off-loop */"  # in a statement's text: run it on the connection's thread
_ALWAYS_OFF_LOOP = frozenset({"commit", "executescript", "backup"})
SLOW_ON_LOOP_SECONDS = 0.05  # an inline call longer than this is logged
log = logging.getLogger("mtb.sqlite")

S = TypeVar("S")


def off_loop(statement: S) -> S:
    """Mark a long read so that on SQLite it runs off the event loop (no effect elsewhere)."""
    return statement.prefix_with(OFF_LOOP, dialect="sqlite")  # type: ignore[attr-defined,no-any-return]


def may_wait(connection: sqlite3.Connection, name: str, args: tuple[Any, ...]) -> bool:
    """Whether the sqlite3 call `name(*args)` on `connection` can wait for more than the CPU. A connection
    `in_transaction` holds the write lock already: the driver begins a transaction only before a write
    (sqlite3's implicit BEGIN, which SQLAlchemy keeps; MTB issues no BEGIN or SAVEPOINT of its own)."""
    if name in _ALWAYS_OFF_LOOP:
        return True
    if name not in ("execute", "executemany") or not args or not isinstance(args[0], str):
        return False
    sql = args[0]
    if OFF_LOOP in sql:
        return True
    return not connection.in_transaction and WRITE.match(sql) is not None


class LoopConnection(aiosqlite.Connection):
    """aiosqlite's connection, running what cannot wait inline (see the module docstring)."""

    _statement = ""  # the last statement run here: a slow fetch belongs to it

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        connection = self._connection
        if connection is None or not self._running:
            raise ValueError("Connection closed")
        if may_wait(connection, getattr(fn, "__name__", ""), args):
            return await super()._execute(fn, *args, **kwargs)
        if args and isinstance(args[0], str):
            self._statement = args[0]
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        if (elapsed := time.perf_counter() - started) > SLOW_ON_LOOP_SECONDS:
            log.warning("slow SQLite statement on the event loop",
                        extra={"ms": round(elapsed * 1000, 1), "statement": " ".join(self._statement.split())[:300]})
        return result


def connect(database: str, **kwargs: Any) -> LoopConnection:
    """What `aiosqlite.connect` does, with a `LoopConnection` (SQLAlchemy awaits it)."""
    kwargs["check_same_thread"] = False  # opened on the connection's thread, used on the loop's too

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(str(database), **kwargs)

    connection = LoopConnection(connector, 64)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
    return connection
