"""Bearer tokens (JWT, HS256) naming who is asking: an insured person or a staff member.

Every token belongs to a login session: a login starts one (a new session id, claim `sid`), and a token
renewed while in use (a staff page, an applicant's renewal) carries the same id. Logout revokes the
session id, so every token of the session ends at once, however many times and wherever it was renewed,
and none of them can be renewed again. A token from before session ids is a session of its own (its jti).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
from sqlalchemy.exc import IntegrityError
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
    session_id: str | None = None  # the login session; None only for a principal not yet issued a token
    expires_at: float | None = None


def lifetime_seconds(kind: str) -> int:
    """Staff tokens last as long as the idle timeout (pages renew them); people's for the token lifetime."""
    settings = get_settings()
    return (settings.staff_idle_minutes if kind == "staff" else settings.token_lifetime_minutes) * 60


def new_session_id() -> str:
    return uuid.uuid4().hex


def issue_token(principal: Principal) -> tuple[str, int]:
    """Return the token and its lifetime in seconds. A principal without a session id starts a new login
    session (a login); one with a session id gets a renewed token of that session (logout ends both)."""
    settings = get_settings()
    lifetime = lifetime_seconds(principal.kind)
    now = utcnow()
    claims: dict[str, object] = {
        "sub": str(principal.id), "kind": principal.kind, "iat": now,
        "exp": now + timedelta(seconds=lifetime), "jti": uuid.uuid4().hex,
        "sid": principal.session_id or new_session_id(),
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
                         region_code=claims.get("region"), session_id=claims.get("sid") or claims.get("jti"),
                         expires_at=float(claims["exp"]))
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录",
                           headers={"WWW-Authenticate": "Bearer"}) from exc


def token_revoked() -> Unauthorized:
    """The answer to a token ended by logout, wherever revocation is checked."""
    return Unauthorized("token_revoked", "您已退出登录，请重新登录", headers={"WWW-Authenticate": "Bearer"})


def revocation_key(principal: Principal) -> str:
    """What the revocation checks look up (the session id; '' matches nothing)."""
    return principal.session_id or ""


async def ensure_not_revoked(session: AsyncSession, principal: Principal) -> None:
    if principal.session_id and await session.get(RevokedToken, principal.session_id) is not None:
        raise token_revoked()


async def revoke(session: AsyncSession, principal: Principal) -> None:
    """End the principal's whole login session before its expiry (logout): every token issued in it.
    The row is kept until the last token the session can have issued has expired (then purged)."""
    if principal.session_id is None or await session.get(RevokedToken, principal.session_id) is not None:
        return
    # Any token of the session was issued by now, so expires within one lifetime from now.
    latest = max(principal.expires_at or 0.0, utcnow().timestamp() + lifetime_seconds(principal.kind))
    try:
        async with session.begin_nested():  # two logouts of one session at once: one row
            session.add(RevokedToken(session_id=principal.session_id, expires_at=datetime.fromtimestamp(latest, UTC)))
    except IntegrityError:
        pass
