"""Bearer tokens (JWT, HS256) naming who is asking: an insured person or a staff member."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.errors import Unauthorized
from mtb.identity.models import RevokedToken
from mtb.settings import get_settings
from mtb.timeutil import utcnow

_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    kind: Literal["person", "staff"]
    id: uuid.UUID
    role: str | None = None
    region_code: str | None = None
    jti: str | None = None
    expires_at: float | None = None


def lifetime_seconds(kind: str) -> int:
    """Staff tokens last as long as the idle timeout (pages renew them); people's for the token lifetime."""
    settings = get_settings()
    return (settings.staff_idle_minutes if kind == "staff" else settings.token_lifetime_minutes) * 60


def issue_token(principal: Principal) -> tuple[str, int]:
    """Return the token and its lifetime in seconds. Each token has an id (jti) so logout can end it."""
    settings = get_settings()
    lifetime = lifetime_seconds(principal.kind)
    now = utcnow()
    claims: dict[str, object] = {
        "sub": str(principal.id), "kind": principal.kind, "iat": now,
        "exp": now + timedelta(seconds=lifetime), "jti": uuid.uuid4().hex,
    }
    if principal.role:
        claims["role"] = principal.role
    if principal.region_code:
        claims["region"] = principal.region_code
    return jwt.encode(claims, settings.secret_key, algorithm=_ALGORITHM), lifetime


# Verified tokens by (secret, token): a token's signature is checked once per worker, not per request.
# Only the signature check is remembered; expiry is checked on every use and revocation is the
# caller's (a revoked token stays in here until it expires or is pushed out, and is refused anyway).
_verified: OrderedDict[tuple[str, str], Principal] = OrderedDict()
VERIFIED_CACHE_SIZE = 20_000


def decode_token(token: str) -> Principal:
    secret = get_settings().secret_key
    key = (secret, token)
    principal = _verified.get(key)
    if principal is None:
        principal = _verify(token, secret)
        _verified[key] = principal
        if len(_verified) > VERIFIED_CACHE_SIZE:
            _verified.popitem(last=False)
    if (principal.expires_at or 0) <= utcnow().timestamp():
        _verified.pop(key, None)
        raise Unauthorized("token_invalid", "登录已失效，请重新登录", headers={"WWW-Authenticate": "Bearer"})
    return principal


def _verify(token: str, secret: str) -> Principal:
    try:
        # Expiry is checked against MTB's own clock (timeutil), the one that issued the token.
        claims = jwt.decode(token, secret, algorithms=[_ALGORITHM],
                            options={"require": ["sub", "exp", "kind"], "verify_exp": False, "verify_iat": False})
        kind = claims["kind"]
        if kind not in ("person", "staff"):
            raise ValueError(kind)
        return Principal(kind=kind, id=uuid.UUID(claims["sub"]), role=claims.get("role"),
                         region_code=claims.get("region"), jti=claims.get("jti"), expires_at=float(claims["exp"]))
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录",
                           headers={"WWW-Authenticate": "Bearer"}) from exc


def token_revoked() -> Unauthorized:
    """The answer to a token ended by logout, wherever revocation is checked."""
    return Unauthorized("token_revoked", "您已退出登录，请重新登录", headers={"WWW-Authenticate": "Bearer"})


async def ensure_not_revoked(session: AsyncSession, principal: Principal) -> None:
    if principal.jti and await session.get(RevokedToken, principal.jti) is not None:
        raise token_revoked()


async def revoke(session: AsyncSession, principal: Principal) -> None:
    """End a token before its expiry (logout). Rows past their expiry can be purged."""
    if principal.jti is None or await session.get(RevokedToken, principal.jti) is not None:
        return
    expires = datetime.fromtimestamp(principal.expires_at or utcnow().timestamp(), UTC)
    session.add(RevokedToken(jti=principal.jti, expires_at=expires))
    await session.flush()
