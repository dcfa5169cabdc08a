"""A channel's public keys: given as a PEM public key or a JWKS document, kept as a JWKS of public keys.

Only asymmetric keys are taken (RSA of 2048 bits or more, EC P-256/P-384/P-521, Ed25519/Ed448): a shared
secret (`kty: oct`) would let MTB's own copy sign assertions, and a private key has no business here. Each
key admits only the algorithms of its type, so an assertion cannot choose `none`, HMAC with the public key
as the secret, or another key type's algorithm.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from mtb.errors import Unprocessable

MIN_RSA_BITS = 2048
MAX_KEYS = 10
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


def _refuse(code: str, detail: str) -> Unprocessable:
    return Unprocessable(code, detail)


def _jwk_of_pem(text: str) -> dict[str, Any]:
    if "PRIVATE KEY" in text:
        raise _refuse("channel_key_private", "请只登记渠道的公钥，不要提交私钥")
    try:
        key = load_pem_public_key(text.encode())
    except ValueError:
        raise _refuse("channel_key_invalid", "无法识别的公钥（应为 PEM 格式的公钥或 JWKS 文档）") from None
    if isinstance(key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
    else:
        raise _refuse("channel_key_unsupported", "只支持 RSA、EC（P-256/P-384/P-521）或 Ed25519/Ed448 公钥")
    return dict(jwk)


def allowed_algorithms(jwk: dict[str, Any]) -> frozenset[str]:
    """The algorithms an assertion signed with this key may name (the JWK's own `alg` narrows them)."""
    kty = jwk.get("kty")
    if kty == "RSA":
        algorithms = RSA_ALGORITHMS
    elif kty == "EC" and jwk.get("crv") in EC_ALGORITHMS:
        algorithms = frozenset({EC_ALGORITHMS[jwk["crv"]]})
    elif kty == "OKP" and jwk.get("crv") in ("Ed25519", "Ed448"):
        algorithms = frozenset({"EdDSA"})
    else:
        algorithms = frozenset()
    if "alg" in jwk:
        algorithms = algorithms & {jwk["alg"]}
    return algorithms


def _checked(jwk: Any, index: int) -> dict[str, Any]:
    where = f"第 {index + 1} 个密钥"
    if not isinstance(jwk, dict):
        raise _refuse("channel_key_invalid", f"{where}不是 JWK 对象")
    if jwk.get("kty") == "oct":
        raise _refuse("channel_key_symmetric", f"{where}是对称密钥：渠道须用非对称密钥（RSA、EC 或 EdDSA）签名")
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        raise _refuse("channel_key_private", f"{where}含私钥部分：请只登记公钥")
    if jwk.get("use", "sig") != "sig":
        raise _refuse("channel_key_invalid", f"{where}的用途（use）不是签名（sig）")
    if not allowed_algorithms(jwk):
        raise _refuse("channel_key_unsupported", f"{where}：只支持 RSA、EC（P-256/P-384/P-521）或 Ed25519/Ed448 公钥")
    try:
        parsed = jwt.PyJWK(jwk)
    except jwt.PyJWTError:
        raise _refuse("channel_key_invalid", f"{where}无法解析") from None
    if isinstance(parsed.key, rsa.RSAPublicKey) and parsed.key.key_size < MIN_RSA_BITS:
        raise _refuse("channel_key_weak", f"{where}：RSA 密钥至少 {MIN_RSA_BITS} 位")
    return {k: v for k, v in jwk.items() if k in ("kty", "crv", "n", "e", "x", "y", "kid", "alg", "use")}


def parse_keys(text: str, *, kid: str | None = None) -> dict[str, Any]:
    """A JWKS document of public keys from a PEM public key (given `kid`, if any) or a JWKS (or one JWK)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        jwk = _jwk_of_pem(text)
        if kid:
            jwk["kid"] = kid
        keys = [jwk]
    else:
        try:
            document = json.loads(text)
        except ValueError:
            raise _refuse("channel_key_invalid", "无法识别的公钥（应为 PEM 格式的公钥或 JWKS 文档）") from None
        keys = document.get("keys") if isinstance(document, dict) and "keys" in document else [document]
        if not isinstance(keys, list):
            raise _refuse("channel_key_invalid", "JWKS 文档的 keys 应为数组")
    if not keys:
        raise _refuse("channel_key_invalid", "至少需要一个公钥")
    if len(keys) > MAX_KEYS:
        raise _refuse("channel_key_invalid", f"一个渠道最多登记 {MAX_KEYS} 个公钥")
    checked = [_checked(k, i) for i, k in enumerate(keys)]
    kids = [k.get("kid") for k in checked]
    if len(checked) > 1 and (None in kids or len(set(kids)) != len(kids)):
        raise _refuse("channel_key_invalid", "登记多个公钥时，每个公钥须有不同的 kid")
    return {"keys": checked}
