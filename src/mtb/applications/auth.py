"""Who may act on applications: insured people (for themselves or as agents) and window clerks write;
staff of the region read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.db.engine import DBSession
from mtb.errors import Forbidden
from mtb.identity.asker import load_asker
from mtb.identity.auth import TokenPrincipal
from mtb.identity.models import InsuredPerson, StaffRole, StaffUser
from mtb.identity.tokens import Principal


@dataclass(frozen=True)
class Acting:
    actor: Actor
    person: InsuredPerson | None = None
    staff: StaffUser | None = None


async def acting_of(principal: Principal, session: AsyncSession) -> Acting:
    """Who is acting, for a principal whose token's signature and expiry are checked (identity/asker.py)."""
    asker = await load_asker(session, principal)
    if isinstance(asker, InsuredPerson):
        return Acting(Actor.of_person(asker), person=asker)
    return Acting(Actor.of_staff(asker), staff=asker)


async def _acting(principal: TokenPrincipal, session: DBSession) -> Acting:
    return await acting_of(principal, session)


async def writer(acting: Annotated[Acting, Depends(_acting)]) -> Acting:
    if acting.staff is not None and acting.staff.role != StaffRole.window:
        raise Forbidden("forbidden_role", "只有参保人、代办人或经办窗口工作人员可以办理申请")
    return acting


Reader = Annotated[Acting, Depends(_acting)]
Writer = Annotated[Acting, Depends(writer)]
