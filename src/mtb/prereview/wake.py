"""Waking this process's pre-review worker when work was committed (an upload, a submission).

Kept apart from service.py so that the application and material services can ask for it without
importing the pre-review (which imports them).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

_wake: asyncio.Event | None = None


def listen() -> asyncio.Event:
    """The event the worker of this process waits on (made when the worker starts)."""
    global _wake
    _wake = asyncio.Event()
    return _wake


def kick() -> None:
    """Wake the worker; a no-op in a process without one (tests, the CLI)."""
    if _wake is not None:
        _wake.set()


def kick_after_commit(session: AsyncSession) -> None:
    """Wake the worker once this session's transaction has committed (never for a rollback)."""
    event.listen(session.sync_session, "after_commit", lambda _session: kick(), once=True)
