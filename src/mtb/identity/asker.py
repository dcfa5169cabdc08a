"""Who is asking: the one place a token's principal becomes the insured person or staff member behind it.

One statement loads the asker and tells whether the token's login session was revoked (logout). The
answers, in this order, are the same for the API's dependencies (identity/auth.py, applications/auth.py)
and the pages (web/core.py):
- the session revoked: 401 `token_revoked`;
- the wrong kind of asker for the route: 403 `forbidden_role`;
- the asker gone, or a staff account deactivated: 401 `token_invalid`;
- a staff role the route does not admit: 403 `forbidden_role`.
The direct reader's staff check (direct/staff.py) gives the same answers in its own statement, and
tests/security/test_asker_twin.py holds the two together.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import exists, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.errors import Forbidden, Unauthorized
from mtb.identity.models import InsuredPerson, RevokedToken, StaffRole, StaffUser
from mtb.identity.tokens import Principal, ensure_not_revoked, token_revoked

M = TypeVar("M", InsuredPerson, StaffUser)

PERSONS_ONLY = "此功能仅限参保人本人或代办人使用"
STAFF_ONLY = "此功能仅限医保经办机构工作人员使用"
ROLE_NOT_ADMITTED = "您的岗位无权使用此功能"


def invalid() -> Unauthorized:
    return Unauthorized("token_invalid", "登录已失效，请重新登录")


async def _load(session: AsyncSession, model: type[M], principal: Principal) -> M:
    revoked = (exists().where(RevokedToken.session_id == principal.session_id)
               if principal.session_id is not None else literal(False))
    row = (await session.execute(select(model, revoked).where(model.id == principal.id))).first()
    if row is None:  # the asker is gone; a revoked token still says so first
        await ensure_not_revoked(session, principal)
        raise invalid()
    asker, is_revoked = row
    if is_revoked:
        raise token_revoked()
    return asker


async def load_asker(session: AsyncSession, principal: Principal) -> InsuredPerson | StaffUser:
    """The person or the active staff member a principal (signature and expiry already checked) stands for."""
    if principal.kind == "person":
        return await _load(session, InsuredPerson, principal)
    staff = await _load(session, StaffUser, principal)
    if not staff.active:
        raise invalid()
    return staff


async def load_person(session: AsyncSession, principal: Principal) -> InsuredPerson:
    """The insured person asking (themselves or as an agent); a staff token is refused after its own checks."""
    if principal.kind != "person":
        await ensure_not_revoked(session, principal)  # a revoked token says so before the role does
        raise Forbidden("forbidden_role", PERSONS_ONLY)
    return await _load(session, InsuredPerson, principal)


async def load_staff(session: AsyncSession, principal: Principal, *roles: StaffRole) -> StaffUser:
    """The active staff member asking, in one of `roles` (any role when none is given)."""
    if principal.kind != "staff":
        await ensure_not_revoked(session, principal)
        raise Forbidden("forbidden_role", STAFF_ONLY)
    staff = await _load(session, StaffUser, principal)
    if not staff.active:
        raise invalid()
    if roles and staff.role not in {r.value for r in roles}:
        raise Forbidden("forbidden_role", ROLE_NOT_ADMITTED)
    return staff
