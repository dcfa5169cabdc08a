"""Who is asking, for staff reads through the direct reader: the same answers as `require_staff` and
`ensure_not_revoked` give on the session path, in one statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mtb.direct.reader import DirectReader
from mtb.errors import Forbidden, Unauthorized
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
    if principal.kind != "staff":
        raise Forbidden("forbidden_role", "此功能仅限医保经办机构工作人员使用")
    (revoked, role, region_code, active), = await reader.all(STAFF, (revocation_key(principal),
                                                                      reader.uuid_param(principal.id)))
    if revoked:
        raise token_revoked()
    if role is None or not active:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录")
    if roles and role not in {r.value for r in roles}:
        raise Forbidden("forbidden_role", "您的岗位无权使用此功能")
    return StaffFacts(principal.id, role, region_code)
