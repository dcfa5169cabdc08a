"""SQLite writers queue at the write gate (mtb/db/sqlite_gate.py), held from the first write to the end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mtb.db.engine import create_engine
from mtb.db.sqlite_gate import WriteGate


@pytest.fixture
async def engine_and_gate(tmp_path: Path) -> tuple[AsyncEngine, WriteGate]:
    gate = WriteGate(timeout=5)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/gate.sqlite3", gate=gate)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
    return engine, gate


async def test_held_from_the_first_write_until_commit(engine_and_gate: tuple[AsyncEngine, WriteGate]) -> None:
    engine, gate = engine_and_gate
    async with engine.connect() as conn:
        await conn.execute(text("SELECT count(*) FROM t"))
        assert not gate.lock().locked()  # reads do not queue
        await conn.execute(text("INSERT INTO t (k, n) VALUES (1, 0)"))
        assert gate.lock().locked()
        await conn.execute(text("UPDATE t SET n = n + 1 WHERE k = 1"))  # the holder does not wait on itself
        await conn.commit()
    assert not gate.lock().locked()
    await engine.dispose()


async def test_released_after_a_rollback(engine_and_gate: tuple[AsyncEngine, WriteGate]) -> None:
    engine, gate = engine_and_gate
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (k, n) VALUES (2, 0)"))
            raise RuntimeError("the request failed")
    assert not gate.lock().locked()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    await engine.dispose()


async def test_concurrent_writers_never_meet_in_sqlite(engine_and_gate: tuple[AsyncEngine, WriteGate]) -> None:
    """Twelve transactions that read, write, wait and write again, all at once, with SQLite's own busy
    handler off: a writer that reached SQLite's lock while another held it would fail at once with
    'database is locked'. They all pass, so they waited at the gate instead."""
    engine, _gate = engine_and_gate

    @event.listens_for(engine.sync_engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    await engine.dispose()  # new connections, with the pragma

    async def writer(k: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))
            await conn.execute(text("INSERT INTO t (k, n) VALUES (:k, 0)"), {"k": k})
            await asyncio.sleep(0.005)
            await conn.execute(text("UPDATE t SET n = n + 1 WHERE k = :k"), {"k": k})

    await asyncio.gather(*(writer(k) for k in range(12)))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*), sum(n) FROM t"))).one() == (12, 12)
    await engine.dispose()
