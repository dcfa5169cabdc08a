"""Who may act on applications: insured people (for themselves or as agents) and window clerks write;
staff of the region read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends
from sqlalchemy import exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.db.engine import DBSession
from mtb.errors import Forbidden, Unauthorized
from mtb.identity.auth import TokenPrincipal
from mtb.identity.models import InsuredPerson, RevokedToken, StaffRole, StaffUser
from mtb.identity.tokens import Principal, ensure_not_revoked, token_revoked

M = TypeVar("M", InsuredPerson, StaffUser)


@dataclass(frozen=True)
class Acting:
    actor: Actor
    person: InsuredPerson | None = None
    staff: StaffUser | None = None


async def acting_of(principal: Principal, session: AsyncSession) -> Acting:
    """Who is acting, for a principal whose token's signature and expiry are checked: one statement
    loads the asker and tells whether the token was revoked (logout)."""
    if principal.kind == "person":
        person = await _asker(session, InsuredPerson, principal)
        return Acting(Actor.of_person(person), person=person)
    staff = await _asker(session, StaffUser, principal)
    if not staff.active:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    return Acting(Actor.of_staff(staff), staff=staff)


async def _asker(session: AsyncSession, model: type[M], principal: Principal) -> M:
    revoked = (exists().where(RevokedToken.session_id == principal.session_id)
               if principal.session_id is not None else literal(False))
    row = (await session.execute(select(model, revoked).where(model.id == principal.id))).first()
    if row is None:  # the asker is gone; a revoked token still says so first
        await ensure_not_revoked(session, principal)
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    asker, is_revoked = row
    if is_revoked:
        raise token_revoked()
    return asker


async def _acting(principal: TokenPrincipal, session: DBSession) -> Acting:
    return await acting_of(principal, session)


async def writer(acting: Annotated[Acting, Depends(_acting)]) -> Acting:
    if acting.staff is not None and acting.staff.role != StaffRole.window:
        raise Forbidden("forbidden_role", "只有参保人、代办人或经办窗口工作人员可以办理申请")
    return acting


Reader = Annotated[Acting, Depends(_acting)]
Writer = Annotated[Acting, Depends(writer)]
