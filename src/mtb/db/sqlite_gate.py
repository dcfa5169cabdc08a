"""One writer at a time on SQLite, queued in the event loop instead of in SQLite's busy handler.

SQLite lets one connection write at a time. A second writer waits in SQLite's busy handler, which polls:
it sleeps 1, 2, 5, 10 … up to 100 ms between tries, and the lock sits free while the waiters sleep. With a
dozen uploads at once most of the time went to those sleeps, with the event loop and the disk idle
(docs/benchmarks.md §4). This gate is an `asyncio.Lock` per engine (per event loop) taken just before a
connection's first INSERT/UPDATE/DELETE of a transaction and given back when the connection returns to the
pool (after its commit or rollback): writers queue in order and the next starts the moment the last one
committed.

It is an optimisation, not the guarantee: SQLite's own lock still decides. A write the gate does not see
(a statement it does not recognise, an engine without a gate) waits in the busy handler as before. So
that no one can hold SQLite's lock while queueing here, a connection already inside a write transaction
never waits for the gate. Engines that write in the same process from one request (the request's session
and the counters' pool) share one gate; a transaction that waits for a second one while holding the gate
would have waited for SQLite's lock before, and times out the same way (`busy_timeout`, 30 s).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from mtb.db.sqlite_loop import WRITE

_HELD = "mtb_write_gate"  # in the pooled connection's info: the lock this connection holds


class WriteGate:
    """The queue of writers of one database file in this process (one lock per event loop)."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def enter(self) -> asyncio.Lock:
        lock = self.lock()
        try:
            async with asyncio.timeout(self.timeout):
                await lock.acquire()
        except TimeoutError:
            raise OperationalError("(write gate)", None, sqlite3.OperationalError("database is locked")) from None
        return lock


def install(engine: AsyncEngine, gate: WriteGate) -> None:
    """Put `engine`'s writes behind `gate`."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before_write(conn: Connection, _cursor: Any, statement: str, _params: Any, _context: Any,
                      _many: bool) -> None:
        if _HELD in conn.info or not WRITE.match(statement):
            return
        if _in_write_transaction(conn):  # holds SQLite's lock already: never queue while holding it
            return
        conn.info[_HELD] = await_only(gate.enter())

    def _release(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
        lock: asyncio.Lock | None = record.info.pop(_HELD, None) if record is not None else None
        if lock is not None and lock.locked():
            lock.release()

    # The connection goes back to the pool after its transaction ended (and is reset); invalidated or
    # detached connections leave the pool without a checkin.
    for name in ("checkin", "invalidate", "soft_invalidate", "detach"):
        event.listen(engine.sync_engine.pool, name, _release)


def _in_write_transaction(conn: Connection) -> bool:
    """True once SQLite has begun this connection's write transaction (the driver's implicit BEGIN)."""
    driver = conn.connection.driver_connection
    return bool(getattr(driver, "in_transaction", False))
