"""Submitting an application once: the one way every channel submits (the API, the applicant's and the
window's pages).

An `Idempotency-Key` (a page sends one in its form) makes a retry answer as the first attempt was
answered, without a second submission, even when the retry races the first: the loser of the race finds
the winner's answer and returns it. The answer stored is the full application, whichever channel made
it, so a key replayed through another channel gets the same answer. Without a key, a retry after success
is refused `already_submitted`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.service import remember, replay, submit
from mtb.applications.views import application_out
from mtb.catalog.workdays import WorkdayCalendar
from mtb.errors import Conflict
from mtb.identity.models import InsuredPerson

ACTION = "submit"


@dataclass(frozen=True)
class Submitted:
    status_code: int
    body: dict[str, Any]
    replayed: bool  # True when this is the answer of an earlier request with the same key


async def submit_once(session: AsyncSession, app: Application, *, actor: Actor, calendar: WorkdayCalendar,
                      key: str | None, declaration_version: str | None,
                      sessionmaker: async_sessionmaker[AsyncSession]) -> Submitted:
    """Submit `app` (already checked writable by `actor`); raises what `submit` refuses."""
    if key is not None and (prior := await replay(session, app.id, ACTION, key)) is not None:
        return Submitted(prior.status_code, prior.body, replayed=True)
    beneficiary = await session.get(InsuredPerson, app.beneficiary_id)
    assert beneficiary is not None
    app_id = app.id
    try:
        materials = await submit(session, app, actor=actor, calendar=calendar, beneficiary=beneficiary,
                                 declaration_version=declaration_version)
    except Conflict:
        if key is None:
            raise
        # The same key may have won a race a moment ago: answer as it was answered.
        await session.rollback()
        async with sessionmaker() as fresh:
            prior = await replay(fresh, app_id, ACTION, key)
        if prior is None:
            raise
        return Submitted(prior.status_code, prior.body, replayed=True)
    body = (await application_out(session, app, materials=materials)).model_dump(mode="json")
    if key is not None:
        await remember(session, app, ACTION, key, 200, body)
    return Submitted(200, body, replayed=False)
