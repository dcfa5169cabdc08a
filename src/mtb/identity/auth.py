"""Request dependencies that say who is asking and what they may do.

401 when nobody (or an expired token) is asking; 403 only for a wrong role on staff routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mtb.db.engine import DBSession
from mtb.errors import Unauthorized
from mtb.identity.asker import load_person, load_staff
from mtb.identity.models import InsuredPerson, StaffRole, StaffUser
from mtb.identity.tokens import Principal, decode_token, ensure_not_revoked

_bearer = HTTPBearer(auto_error=False, description="登录后获得的访问令牌")


async def token_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The token's principal, checked by signature and expiry only: whoever depends on this checks
    revocation (`current_principal`, or the statement that loads the asker in applications/auth.py)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("not_authenticated", "请先登录", headers={"WWW-Authenticate": "Bearer"})
    return decode_token(credentials.credentials)


TokenPrincipal = Annotated[Principal, Depends(token_principal)]


async def current_principal(principal: TokenPrincipal, session: DBSession) -> Principal:
    await ensure_not_revoked(session, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def principal_of(request: Request) -> Principal:
    """The token's principal, checked by signature and expiry only, read without the dependency machinery:
    for the hot routes (mtb/direct/params.py), whose own statement checks revocation and that the asker
    still exists. Same answers as `current_principal` for a missing or malformed header."""
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return decode_token(token.strip())
            break
    raise Unauthorized("not_authenticated", "请先登录", headers={"WWW-Authenticate": "Bearer"})


async def current_person(principal: TokenPrincipal, session: DBSession) -> InsuredPerson:
    return await load_person(session, principal)


CurrentPerson = Annotated[InsuredPerson, Depends(current_person)]


def require_staff(*roles: StaffRole) -> Callable[..., Awaitable[StaffUser]]:
    """A dependency admitting active staff with one of `roles` (any staff role when none given)."""

    async def dependency(principal: TokenPrincipal, session: DBSession) -> StaffUser:
        return await load_staff(session, principal, *roles)

    return dependency
