"""Who is asking, for staff reads through the direct reader: the same answers as identity/asker.py gives on
the session path, in this reader's one statement (tests/security/test_asker_twin.py compares them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mtb.direct.reader import DirectReader
from mtb.errors import Forbidden, Unauthorized
from mtb.identity.asker import ROLE_NOT_ADMITTED, STAFF_ONLY
from mtb.identity.models import StaffRole
from mtb.identity.tokens import Principal, revocation_key, token_revoked

STAFF = ("SELECT (SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?), s.role, s.region_code, s.active "
         "FROM (SELECT 1 AS one) x LEFT JOIN staff_users s ON s.id = ?")


@dataclass(frozen=True, slots=True)
class StaffFacts:
    id: uuid.UUID
    role: str
    region_code: str


async def staff_of(reader: DirectReader, principal: Principal, *roles: StaffRole) -> StaffFacts:
    (revoked, role, region_code, active), = await reader.all(STAFF, (revocation_key(principal),
                                                                      reader.uuid_param(principal.id)))
    if revoked:  # a revoked token says so before the role does, as identity/asker.py answers
        raise token_revoked()
    if principal.kind != "staff":
        raise Forbidden("forbidden_role", STAFF_ONLY)
    if role is None or not active:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    if roles and role not in {r.value for r in roles}:
        raise Forbidden("forbidden_role", ROLE_NOT_ADMITTED)
    return StaffFacts(principal.id, role, region_code)
