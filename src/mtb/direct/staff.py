"""Who is asking, for staff reads through the direct reader: the same answers as identity/asker.py gives on
the session path, in this reader's one statement (tests/security/test_asker_twin.py compares them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, func, literal_column, select

from mtb.direct.reader import DirectReader
from mtb.direct.statements import Statement
from mtb.errors import Forbidden, Unauthorized
from mtb.identity.asker import ROLE_NOT_ADMITTED, STAFF_ONLY
from mtb.identity.models import RevokedToken, StaffRole, StaffUser
from mtb.identity.tokens import Principal, revocation_key, token_revoked


def revoked() -> ColumnElement[int]:
    """1 when the asking token's login session was revoked (identity/tokens.py), for the `jti` parameter
    (`revocation_key`)."""
    return (select(func.count()).select_from(RevokedToken).where(RevokedToken.session_id == bindparam("jti"))
            .scalar_subquery().label("revoked"))


# The staff user's side is a one-row FROM so that a user no longer there still says whether the token was
# revoked.
STAFF = Statement("staff", select(revoked(), StaffUser.role, StaffUser.region_code, StaffUser.active)
                  .select_from(select(literal_column("1").label("one")).subquery("x")
                               .outerjoin(StaffUser, StaffUser.id == bindparam("staff"))))


@dataclass(frozen=True, slots=True)
class StaffFacts:
    id: uuid.UUID
    role: str
    region_code: str


async def staff_of(reader: DirectReader, principal: Principal, *roles: StaffRole) -> StaffFacts:
    (r,) = await reader.all(STAFF, {"jti": revocation_key(principal), "staff": reader.uuid_param(principal.id)})
    if r.revoked:  # a revoked token says so before the role does, as identity/asker.py answers
        raise token_revoked()
    if principal.kind != "staff":
        raise Forbidden("forbidden_role", STAFF_ONLY)
    if r.role is None or not r.active:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    if roles and r.role not in {role.value for role in roles}:
        raise Forbidden("forbidden_role", ROLE_NOT_ADMITTED)
    return StaffFacts(principal.id, r.role, r.region_code)
