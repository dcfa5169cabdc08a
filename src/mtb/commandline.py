"""What every `mtb` command shares: how it fails (a message on stderr and an exit code, never a traceback)
and how it reaches the configured database (one engine for the command, disposed at its end)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.db.engine import create_engine, create_sessionmaker
from mtb.settings import get_settings

T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def with_database(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """Run `work` with sessions of the configured database."""

    async def runner() -> T:
        settings = get_settings()
        engine = create_engine(settings.database_url, prepared_statements=settings.database_prepared_statements)
        try:
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(runner())


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the configured database: all of it commits or none."""

    async def in_one(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with sessions() as session, session.begin():
            return await work(session)

    return with_database(in_one)
