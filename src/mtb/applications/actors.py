"""Who acts on an application, and what they may read: the filter every query goes through."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import BindParameter, ColumnElement, or_

from mtb.applications.models import Application
from mtb.identity.models import InsuredPerson, StaffUser


@dataclass(frozen=True)
class Actor:
    kind: Literal["person", "staff", "system"]
    id: uuid.UUID | None
    region_code: str | None = None
    role: str | None = None

    @classmethod
    def of_person(cls, person: InsuredPerson) -> Actor:
        return cls("person", person.id)

    @classmethod
    def of_staff(cls, staff: StaffUser) -> Actor:
        return cls("staff", staff.id, staff.region_code, staff.role)


SYSTEM = Actor("system", None)  # MTB itself: the periodic jobs and the fast track


def person_may_read(person_id: uuid.UUID | None | BindParameter[uuid.UUID]) -> ColumnElement[bool]:
    """The applicant and the beneficiary see an application. A value, or a `bindparam` for the direct
    reader's statements (mtb/direct), which are compiled once with this same filter."""
    return or_(Application.beneficiary_id == person_id, Application.submitter_person_id == person_id)


def staff_may_read(region_code: str | None | BindParameter[str]) -> ColumnElement[bool]:
    """Staff see their region's applications (a value, or a `bindparam` as above)."""
    return Application.region_code == region_code


def readable_by(actor: Actor) -> ColumnElement[bool]:
    """The applicant and the beneficiary see an application; staff see their region's. Nobody else:
    an application outside this filter does not exist for the asker (404)."""
    if actor.kind == "person":
        return person_may_read(actor.id)
    if actor.kind == "staff":
        return staff_may_read(actor.region_code)
    raise ValueError("the system reads without a filter")
