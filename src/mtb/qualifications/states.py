"""Qualification statuses and the one table of allowed transitions, each by the act that makes it.

A filing is born `active` (`service.grant` inserts it: an approval). From there:

| from             | to         | by       | who                                                        |
| ---------------- | ---------- | -------- | ---------------------------------------------------------- |
| active           | expired    | expire   | the periodic job, the day after `valid_until` (jobs.py)    |
| active           | revoked    | revoke   | an administrator (`service.revoke`)                        |
| active           | replaced   | change   | the approval of a change application (`service.grant`)     |
| active / expired | replaced   | renew    | the approval of a renewal application (`service.grant`)    |

`expired` can only be renewed (within the grace period); `revoked` and `replaced` are final. Nothing
ever returns to `active`, so the graph has no cycle: a status compared-and-set cannot have left and come
back meanwhile, and the status alone tells a stale writer (no version column needed). Only
`service.set_status` changes a status.
"""

from __future__ import annotations

from enum import StrEnum

from mtb.qualifications.models import QualificationStatus

Status = QualificationStatus  # the name used inside this package, as applications/states.py does


class QualificationAction(StrEnum):
    """What changes a filing's status; each writes its own history row (`EVENTS`)."""

    expire = "expire"
    revoke = "revoke"
    change = "change"
    renew = "renew"


Action = QualificationAction

INITIAL = Status.active  # what an approval grants

TRANSITIONS: dict[tuple[Status, Status], frozenset[Action]] = {
    (Status.active, Status.expired): frozenset({Action.expire}),
    (Status.active, Status.revoked): frozenset({Action.revoke}),
    (Status.active, Status.replaced): frozenset({Action.change, Action.renew}),
    (Status.expired, Status.replaced): frozenset({Action.renew}),
}

# The history row (QualificationEvent.action) each act writes; the webhooks map these to events.
EVENTS: dict[Action, str] = {
    Action.expire: "expired",
    Action.revoke: "revoked",
    Action.change: "replaced",
    Action.renew: "replaced",
}


def permits(current: Status | str, to: Status | str, action: Action) -> bool:
    """May `action` take a filing from `current` to `to`?"""
    return action in TRANSITIONS.get((Status(current), Status(to)), frozenset())


def may(current: Status | str, action: Action) -> bool:
    """May `action` be taken on a filing in `current` at all (to the one status it leads to)?"""
    return any(action in acts and source == Status(current) for (source, _), acts in TRANSITIONS.items())
