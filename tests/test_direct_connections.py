"""The direct reader's PostgreSQL connections (mtb/direct/reader.py `Connections`): a connection lost or left
mid-statement is replaced, never handed to the next request as it is."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from sqlalchemy import Integer, bindparam, cast, func, select
from sqlalchemy.engine import make_url

from mtb.direct.reader import make_reader
from mtb.direct.statements import Statement

URL = os.environ.get("MTB_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not URL or make_url(URL).get_backend_name() != "postgresql",
                                reason="PostgreSQL only (MTB_TEST_DATABASE_URL)")


PID = Statement("pid", select(func.pg_backend_pid().label("pid")))
SLEEP = Statement("sleep", select(func.pg_sleep(30).label("slept")))
NUMBER = Statement("number", select(cast(bindparam("i"), Integer).label("i")))


def _dsn() -> str:
    return make_url(URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def test_a_connection_the_server_ended_is_replaced() -> None:
    """After a server restart (here: its backend terminated) the next request is answered on a new
    connection."""
    reader = make_reader(URL, pool_size=1)
    [(pid,)] = await reader.all(PID, {})
    admin = await asyncpg.connect(_dsn())
    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    await admin.close()
    await asyncio.sleep(0.5)  # the client notices the closed socket
    [(new_pid,)] = await reader.all(PID, {})
    assert new_pid != pid
    await reader.close()


async def test_a_cancelled_statement_leaves_no_busy_connection() -> None:
    """A request cancelled mid-statement (the client went away): the next request on the only connection
    is answered at once, not after the abandoned statement."""
    reader = make_reader(URL, pool_size=1)
    [(pid,)] = await reader.all(PID, {})
    slow = asyncio.create_task(reader.all(SLEEP, {}))
    await asyncio.sleep(0.3)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    async with asyncio.timeout(10):
        [(new_pid,)] = await reader.all(PID, {})
    assert new_pid != pid  # the connection that was cancelled mid-statement was closed
    await reader.close()


async def test_requests_beyond_the_connections_wait_their_turn() -> None:
    reader = make_reader(URL, pool_size=2)
    rows = await asyncio.gather(*(reader.all(NUMBER, {"i": i}) for i in range(20)))
    assert rows == [[(i,)] for i in range(20)]
    pids = await asyncio.gather(*(reader.all(PID, {}) for _ in range(10)))
    assert len({p[0][0] for p in pids}) <= 2
    await reader.close()
