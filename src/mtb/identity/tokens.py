"""Bearer tokens (JWT, HS256) naming who is asking: an insured person or a staff member."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import jwt

from mtb.errors import Unauthorized
from mtb.settings import get_settings
from mtb.timeutil import utcnow

_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    kind: Literal["person", "staff"]
    id: uuid.UUID
    role: str | None = None
    region_code: str | None = None


def issue_token(principal: Principal) -> tuple[str, int]:
    """Return the token and its lifetime in seconds."""
    settings = get_settings()
    lifetime = settings.token_lifetime_minutes * 60
    now = utcnow()
    claims: dict[str, object] = {
        "sub": str(principal.id), "kind": principal.kind, "iat": now,
        "exp": now + timedelta(seconds=lifetime),
    }
    if principal.role:
        claims["role"] = principal.role
    if principal.region_code:
        claims["region"] = principal.region_code
    return jwt.encode(claims, settings.secret_key, algorithm=_ALGORITHM), lifetime


def decode_token(token: str) -> Principal:
    try:
        # Expiry is checked against MTB's own clock (timeutil), the one that issued the token.
        claims = jwt.decode(token, get_settings().secret_key, algorithms=[_ALGORITHM],
                            options={"require": ["sub", "exp", "kind"], "verify_exp": False, "verify_iat": False})
        if float(claims["exp"]) <= utcnow().timestamp():
            raise ValueError("expired")
        kind = claims["kind"]
        if kind not in ("person", "staff"):
            raise ValueError(kind)
        return Principal(kind=kind, id=uuid.UUID(claims["sub"]), role=claims.get("role"),
                         region_code=claims.get("region"))
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise Unauthorized("token_invalid", "登录已失效，请重新登录",
                           headers={"WWW-Authenticate": "Bearer"}) from exc
