"""Who may act on applications: insured people (for themselves or as agents) and window clerks write;
staff of the region read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.db import DBSession
from mtb.errors import Forbidden, Unauthorized
from mtb.identity.auth import CurrentPrincipal
from mtb.identity.models import InsuredPerson, StaffRole, StaffUser
from mtb.identity.tokens import Principal


@dataclass(frozen=True)
class Acting:
    actor: Actor
    person: InsuredPerson | None = None
    staff: StaffUser | None = None


async def acting_of(principal: Principal, session: AsyncSession) -> Acting:
    """Who is acting, for a principal whose token is known to be valid and not revoked."""
    if principal.kind == "person":
        person = await session.get(InsuredPerson, principal.id)
        if person is None:
            raise Unauthorized("token_invalid", "登录已失效，请重新登录")
        return Acting(Actor.of_person(person), person=person)
    staff = await session.get(StaffUser, principal.id)
    if staff is None or not staff.active:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    return Acting(Actor.of_staff(staff), staff=staff)


async def _acting(principal: CurrentPrincipal, session: DBSession) -> Acting:
    return await acting_of(principal, session)


async def writer(acting: Annotated[Acting, Depends(_acting)]) -> Acting:
    if acting.staff is not None and acting.staff.role != StaffRole.window:
        raise Forbidden("forbidden_role", "只有参保人、代办人或经办窗口工作人员可以办理申请")
    return acting


Reader = Annotated[Acting, Depends(_acting)]
Writer = Annotated[Acting, Depends(writer)]
