"""Database engine, the declarative base, and one session per request.

Sessions: services `flush`, never commit. The request's session commits once, after the route has
returned and before the response is sent (`Depends(..., scope="function")`), so a 2xx answer means
the data is committed; any exception rolls everything back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from mtb.db import sqlite_loop
from mtb.db.sqlite_gate import WriteGate
from mtb.db.sqlite_gate import install as install_gate
from mtb.outage import CONNECT_TIMEOUT_SECONDS, POOL_TIMEOUT_SECONDS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The deepest offset a paged list accepts (a 422 beyond): far past any real list, and far inside the 64-bit
# integers a database takes (a larger one was a 500 on SQLite).
MAX_OFFSET = 1_000_000


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back time-zone aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, prepared_statements: bool = True, gate: WriteGate | None = None,
                  sqlite_inline: bool = True, **kwargs: Any) -> AsyncEngine:
    """On SQLite, writes queue at `gate` (a new one unless engines of this process that write from one
    request share theirs; see sqlite_gate.py), and statements run on the event loop's thread unless they
    can wait (`sqlite_inline`, MTB_SQLITE_INLINE; see sqlite_loop.py).

    `prepared_statements=False` (MTB_DATABASE_PREPARED_STATEMENTS=false) when `url` is a PgBouncer in
    transaction pooling before 1.21: a client's transactions run on different server connections, where a
    statement psycopg prepared (from its 5th execution on) is missing or exists already."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        if sqlite_inline:
            @event.listens_for(engine.sync_engine, "do_connect")
            def _loop_connection(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
                cparams["async_creator_fn"] = sqlite_loop.connect  # SQLAlchemy's aiosqlite adapter calls it

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        install_gate(engine, gate or WriteGate())
        return engine
    # A connection is pinged before use and replaced if it died (a database restart); a connection attempt
    # and a wait for a free connection are bounded, so a request to an unreachable database is answered
    # 503 in seconds (outage.py), never held.
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **kwargs.pop("connect_args", {})}
    if not prepared_statements:
        connect_args["prepare_threshold"] = None
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


DBSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
