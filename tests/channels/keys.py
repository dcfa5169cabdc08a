"""Key pairs made in the test session, and assertions signed with them as a channel would."""

from __future__ import annotations

import base64
import json
import uuid
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from mtb.timeutil import utcnow

AUDIENCE = "mtb"


@lru_cache
def private_key(kind: str, n: int = 0) -> PrivateKeyTypes:
    """`kind` is rsa, ec or ed25519; `n` tells apart several keys of one kind."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(key: PrivateKeyTypes) -> str:
    return key.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem(key: PrivateKeyTypes) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def jwks(*pairs: tuple[str, PrivateKeyTypes]) -> str:
    """A JWKS document of the public halves, each with its kid."""
    keys = []
    for kid, key in pairs:
        algorithm = jwt.algorithms.get_default_algorithms()[_alg_of(key)]
        jwk = json.loads(algorithm.to_jwk(key.public_key()))  # type: ignore[attr-defined]
        keys.append(jwk | {"kid": kid})
    return json.dumps({"keys": keys})


def _alg_of(key: PrivateKeyTypes) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES256"
    return "EdDSA"


def claims(person: Any, *, channel: str = "bj-app", **overrides: Any) -> dict[str, Any]:
    """The claims of a good assertion for `person` (a tests.factories.Person), with `overrides`
    (a value of None removes the claim)."""
    now = int(utcnow().timestamp())
    base = {"iss": channel, "aud": AUDIENCE, "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex,
            "id_number": person.id_number, "name": person.name, "card_number": person.card_number}
    merged = base | overrides
    return {k: v for k, v in merged.items() if v is not None}


def sign(payload: dict[str, Any], key: PrivateKeyTypes, *, algorithm: str | None = None,
         kid: str | None = None) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload, key, algorithm=algorithm or _alg_of(key), headers=headers)  # type: ignore[arg-type]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A token put together by hand, as an attacker would (no library's checks)."""
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)])
