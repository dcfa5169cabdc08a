"""SQLite statements run on the event loop's thread, except those that can wait (mtb/db/sqlite_loop.py)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mtb.db.engine import create_engine
from mtb.db.sqlite_loop import OFF_LOOP, may_wait


def _engine(path: Path, *, inline: bool = True) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_inline=inline)

    @event.listens_for(engine.sync_engine, "connect")
    def _thread_id(dbapi_connection: Any, _record: Any) -> None:  # tid(): the thread running the statement
        dbapi_connection.create_function("tid", 0, threading.get_ident)

    return engine


async def _make_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, tid INTEGER NOT NULL)"))


async def test_reads_and_writes_inside_a_transaction_run_on_the_loop(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "loop.sqlite3")
    await _make_table(engine)
    loop_thread = threading.get_ident()
    async with engine.begin() as conn:
        assert (await conn.execute(text("SELECT tid()"))).scalar_one() == loop_thread
        await conn.execute(text("INSERT INTO t (k, tid) VALUES (1, tid())"))  # takes the lock: off the loop
        await conn.execute(text("INSERT INTO t (k, tid) VALUES (2, tid())"))  # holds it already: inline
        marked = (await conn.execute(select(text("tid()")).prefix_with(OFF_LOOP))).scalar_one()
    async with engine.connect() as conn:
        rows = dict((await conn.execute(text("SELECT k, tid FROM t ORDER BY k"))).all())
    assert rows[1] != loop_thread
    assert rows[2] == loop_thread
    assert marked != loop_thread
    await engine.dispose()


async def test_without_inline_every_statement_leaves_the_loop(tmp_path: Path) -> None:
    """MTB_SQLITE_INLINE=false: plain aiosqlite, every call on the connection's thread."""
    engine = _engine(tmp_path / "thread.sqlite3", inline=False)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT tid()"))).scalar_one() != threading.get_ident()
    await engine.dispose()


async def test_a_writer_waiting_for_another_process_does_not_stop_the_loop(tmp_path: Path) -> None:
    """Another process (here a plain sqlite3 connection, which the write gate does not know) holds the
    write lock; the loop lets it go after a moment. The engine's write waits for it in SQLite's busy
    handler: were that wait on the loop's thread, the loop could not let the lock go and the write would
    fail with 'database is locked' after the busy timeout."""
    path = tmp_path / "busy.sqlite3"
    engine = _engine(path)
    await _make_table(engine)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t (k, tid) VALUES (10, 0)")
    ticks = 0

    async def other_process() -> None:
        nonlocal ticks
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        other.execute("COMMIT")

    release = asyncio.create_task(other_process())
    async with engine.begin() as conn:
        await conn.execute(text("PRAGMA busy_timeout=5000"))
        await conn.execute(text("INSERT INTO t (k, tid) VALUES (11, 0)"))
    await release
    assert ticks == 20
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT k FROM t ORDER BY k"))).scalars().all() == [10, 11]
    other.close()
    await engine.dispose()


@pytest.mark.parametrize(("name", "args", "in_transaction", "expected"), [
    ("execute", ("SELECT 1",), False, False),
    ("execute", ("  insert into t values (1)",), False, True),
    ("execute", ("UPDATE t SET k = 2",), True, False),
    ("executemany", ("DELETE FROM t WHERE k = ?",), False, True),
    ("execute", (f"SELECT {OFF_LOOP} count(*) FROM t",), True, True),
    ("commit", (), True, True),
    ("rollback", (), True, False),
    ("fetchall", (), True, False),
])
def test_which_calls_may_wait(tmp_path: Path, name: str, args: tuple[Any, ...], in_transaction: bool,
                              expected: bool) -> None:
    conn = sqlite3.connect(tmp_path / "w.sqlite3")
    conn.execute("CREATE TABLE t (k INTEGER)")
    conn.commit()
    if in_transaction:
        conn.execute("INSERT INTO t VALUES (0)")
    assert conn.in_transaction is in_transaction
    assert may_wait(conn, name, args) is expected
    conn.close()


_SLOW = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
         "SELECT count(*) FROM n")


async def test_a_slow_statement_on_the_loop_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A long read nobody marked shows in the log with its text; marked, it runs on the thread unlogged."""
    engine = _engine(tmp_path / "slow.sqlite3")
    async with engine.connect() as conn:
        with caplog.at_level(logging.WARNING, logger="mtb.sqlite"):
            assert (await conn.execute(text(_SLOW))).scalar_one() == 3000000
            assert (await conn.execute(text(_SLOW.replace("SELECT count(*)", f"SELECT {OFF_LOOP} count(*)"))
                                       )).scalar_one() == 3000000
    slow = [r for r in caplog.records if r.getMessage() == "slow SQLite statement on the event loop"]
    assert len(slow) == 1 and slow[0].statement.startswith("WITH RECURSIVE")  # type: ignore[attr-defined]
    await engine.dispose()
