"""Waking this process's in-process workers when their work was committed.

One `Wake` per worker: the pre-review worker (woken by an upload or a submission) and the webhook worker
(woken by a message queued for delivery). The worker calls `listen()` when it starts and waits on the
event it gets; a service that has just added work calls `kick_after_commit(session)`, so the worker is
woken once the transaction commits and never for a rollback. In a process without the worker (tests, the
CLI, a worker in another process) a kick is a no-op and the worker's poll interval picks the work up.

Kept apart from the services so that they can ask for a wake-up without importing the worker's module
(the pre-review imports the application and material services, which kick it).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession


class Wake:
    """The wake-up signal of one in-process worker."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def listen(self) -> asyncio.Event:
        """The event the worker of this process waits on (made anew each time a worker starts)."""
        self._event = asyncio.Event()
        return self._event

    def kick(self) -> None:
        """Wake the worker; a no-op in a process without one."""
        if self._event is not None:
            self._event.set()

    def kick_after_commit(self, session: AsyncSession) -> None:
        """Wake the worker once this session's transaction has committed (never for a rollback)."""
        event.listen(session.sync_session, "after_commit", lambda _session: self.kick(), once=True)


prereview = Wake()
"""The pre-review worker's (mtb/prereview/service.py `worker`): uploads and submissions kick it."""

webhooks = Wake()
"""The webhook worker's (mtb/webhooks/delivery.py `worker`): queued messages kick it."""
