"""Who may decide an application: the reviewer holding its claim (a claim lapses when idle), or a rule
when nobody holds it. Used by the review service (claim, release, decide) and by the approval path."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from mtb.applications.models import Application
from mtb.applications.states import LABELS, Status
from mtb.errors import Conflict
from mtb.timeutil import utcnow


@dataclass(frozen=True)
class ClaimState:
    holder_id: uuid.UUID | None
    active: bool


class Claimable(Protocol):
    claimed_by_id: uuid.UUID | None
    claimed_at: datetime | None


def claim_state(app: Claimable, *, idle_minutes: int, now: datetime | None = None) -> ClaimState:
    if app.claimed_by_id is None or app.claimed_at is None:
        return ClaimState(None, False)
    active = app.claimed_at + timedelta(minutes=idle_minutes) > (now or utcnow())
    return ClaimState(app.claimed_by_id, active)


def claim_stamp(app: Claimable) -> str:
    """The claim a page was shown (its instant, in microseconds): the page's beacon on leaving releases that
    claim only, not one refreshed since by the next load of the same page (a reload, the same application
    opened again)."""
    if app.claimed_at is None:
        return ""
    at = app.claimed_at if app.claimed_at.tzinfo else app.claimed_at.replace(tzinfo=UTC)
    return str(round(at.timestamp() * 1_000_000))


def require_decider(app: Application, *, staff_id: uuid.UUID | None, idle_minutes: int,
                    now: datetime | None = None) -> None:
    """The application is in review and `staff_id` holds its live claim; `staff_id` None is a rule (the
    fast track), which decides only an application nobody holds, lapsed claims included."""
    status = Status(app.status)
    if status != Status.in_review:
        raise Conflict("not_in_review", f"申请当前状态为“{LABELS[status]}”，请先领取后再审核")
    if staff_id is None:
        if app.claimed_by_id is not None:
            raise Conflict("not_claim_holder", "该申请已由审核人员领取，须由其作出决定")
        return
    state = claim_state(app, idle_minutes=idle_minutes, now=now)
    if not (state.active and state.holder_id == staff_id):
        raise Conflict("not_claim_holder", "只有领取此申请的审核人员可以作出决定，请先领取")
