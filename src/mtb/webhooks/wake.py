"""Waking this process's webhook worker when messages were committed (as prereview/wake.py does)."""

from __future__ import annotations

import asyncio

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

_wake: asyncio.Event | None = None


def listen() -> asyncio.Event:
    global _wake
    _wake = asyncio.Event()
    return _wake


def kick() -> None:
    """Wake the worker; a no-op in a process without one (the CLI, a worker in another process)."""
    if _wake is not None:
        _wake.set()


def kick_after_commit(session: AsyncSession) -> None:
    event.listen(session.sync_session, "after_commit", lambda _session: kick(), once=True)
