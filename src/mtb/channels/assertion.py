"""A channel's signed assertion naming a person: checked in full before MTB issues its own session.

The assertion is a JWT signed with one of the channel's registered public keys:

    header  {"alg": "ES256" | "RS256" | "PS256" | "EdDSA" | ..., "kid": "<key id, if the channel has several>"}
    claims  {"iss": "<channel code>", "aud": "<MTB_CHANNEL_AUDIENCE>", "iat": ..., "exp": ..., "nbf"?: ...,
             "jti": "<unique id>", "id_number": "<resident ID>", "name": "<name>", "card_number"?: "<card>"}

Every refusal is a 401 with its own stable code (ASSERTION_ERRORS); times are checked against MTB's clock
with LEEWAY_SECONDS of tolerance for the channel's clock.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.channels.keys import allowed_algorithms
from mtb.channels.models import Channel, ChannelAssertion
from mtb.error_codes import declare
from mtb.errors import Unauthorized
from mtb.identity import idnumber
from mtb.identity.models import InsuredPerson
from mtb.timeutil import utcnow

log = logging.getLogger("mtb.channels")

LEEWAY_SECONDS = 30
MAX_JTI_LENGTH = 128

# code -> what a person (the channel's developer) reads. Clients branch on the code.
ASSERTION_ERRORS: dict[str, str] = {
    "assertion_malformed": "渠道身份断言不是有效的 JWT",
    "assertion_algorithm_refused": "渠道身份断言的签名算法不被接受（须为所登记公钥对应的非对称算法）",
    "channel_unknown": "未登记或已停用的渠道（iss）",
    "channel_key_unknown": "渠道身份断言的 kid 不是该渠道登记的公钥",
    "assertion_signature_invalid": "渠道身份断言的签名无效",
    "assertion_claim_missing": "渠道身份断言缺少必需的声明，或声明格式不正确",
    "assertion_audience_invalid": "渠道身份断言的接收方（aud）不是本系统",
    "assertion_not_yet_valid": "渠道身份断言的签发时间（iat）或生效时间（nbf）在未来",
    "assertion_lifetime_too_long": "渠道身份断言的有效期过长",
    "assertion_expired": "渠道身份断言已过期",
    "assertion_replayed": "渠道身份断言已被使用过（jti 不能重复使用）",
    "channel_person_unknown": "参保登记中没有断言所指的参保人",
    "channel_person_mismatch": "断言中的姓名或医保卡号与参保登记不一致",
    "channel_person_other_region": "该渠道只能为本地区参保人办理登录",
}
declare(401, ASSERTION_ERRORS)  # raised through `refused` below: listed in /openapi.json (error_codes.py)


def refused(code: str) -> Unauthorized:
    return Unauthorized(code, ASSERTION_ERRORS[code], headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class Assertion:
    channel: Channel
    jti: str
    expires_at: datetime
    id_number: str
    name: str
    card_number: str | None


# A time claim (iat, exp, nbf) is seconds since 1970 before the year 3000: JSON lets through NaN, Infinity
# and numbers no clock can hold, which would skip the comparisons below or break the date arithmetic.
MAX_TIME_CLAIM = 32503680000


def _time(claims: dict[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refused("assertion_claim_missing")
    # NaN fails both comparisons; a huge int is compared before it is made a float (which could overflow)
    if not (0 <= value <= MAX_TIME_CLAIM):
        raise refused("assertion_claim_missing")
    return float(value)


def _text(claims: dict[str, Any], name: str, *, required: bool, limit: int = 64) -> str | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise refused("assertion_claim_missing")
    return value.strip()


def _key_for(channel: Channel, kid: Any) -> dict[str, Any]:
    keys: list[dict[str, Any]] = channel.keys.get("keys", [])
    if kid is None:
        if len(keys) == 1:
            return keys[0]
        raise refused("channel_key_unknown")
    for key in keys:
        if key.get("kid") == kid:
            return key
    raise refused("channel_key_unknown")


async def verify_assertion(session: AsyncSession, token: str, *, audience: str,
                           max_lifetime_seconds: int) -> Assertion:
    """Check signature, audience and times, and use up the `jti` (in the caller's transaction)."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError:
        raise refused("assertion_malformed") from None
    except jwt.PyJWTError:  # a claim of the wrong type (PyJWT checks some even unverified)
        raise refused("assertion_claim_missing") from None
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm.lower() == "none" or algorithm.upper().startswith("HS"):
        raise refused("assertion_algorithm_refused")
    issuer = _text(unverified, "iss", required=True, limit=128)
    channel = (await session.execute(select(Channel).where(Channel.code == issuer))).scalar_one_or_none()
    if channel is None or not channel.active:
        raise refused("channel_unknown")
    jwk = _key_for(channel, header.get("kid"))
    if algorithm not in allowed_algorithms(jwk):
        raise refused("assertion_algorithm_refused")
    try:
        key = jwt.PyJWK(jwk, algorithm=algorithm).key
        # Times and audience are checked below, against MTB's clock and with codes of their own.
        claims: dict[str, Any] = jwt.decode(token, key=key, algorithms=[algorithm], options={
            "verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False,
            "verify_iss": False})
    except jwt.InvalidSignatureError:
        raise refused("assertion_signature_invalid") from None
    except jwt.DecodeError:
        raise refused("assertion_malformed") from None
    except jwt.PyJWTError:
        raise refused("assertion_claim_missing") from None

    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise refused("assertion_audience_invalid")
    now = utcnow().timestamp()
    issued = _time(claims, "iat", required=True)
    expires = _time(claims, "exp", required=True)
    not_before = _time(claims, "nbf", required=False)
    assert issued is not None and expires is not None
    jti = _text(claims, "jti", required=True, limit=MAX_JTI_LENGTH)
    id_number = _text(claims, "id_number", required=True, limit=32)
    name = _text(claims, "name", required=True)
    card_number = _text(claims, "card_number", required=False)
    assert jti is not None and id_number is not None and name is not None
    if issued > now + LEEWAY_SECONDS or (not_before is not None and not_before > now + LEEWAY_SECONDS):
        raise refused("assertion_not_yet_valid")
    if expires - issued > max_lifetime_seconds:
        raise refused("assertion_lifetime_too_long")
    if expires + LEEWAY_SECONDS <= now:
        raise refused("assertion_expired")
    expires_at = datetime.fromtimestamp(expires + LEEWAY_SECONDS, UTC)
    await _use_once(session, channel.id, jti, expires_at)
    return Assertion(channel=channel, jti=jti, expires_at=expires_at, id_number=id_number, name=name,
                     card_number=card_number)


async def _use_once(session: AsyncSession, channel_id: uuid.UUID, jti: str, expires_at: datetime) -> None:
    """Record the `jti`; refuse it when it was recorded before. Under two concurrent uses PostgreSQL makes
    the second insert wait for the first transaction and then do nothing; SQLite has one writer at a time."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    inserted = (await session.execute(
        insert(ChannelAssertion).values(channel_id=channel_id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing().returning(ChannelAssertion.jti))).first()
    if inserted is None:
        raise refused("assertion_replayed")


async def person_of(session: AsyncSession, assertion: Assertion) -> InsuredPerson:
    """The registry entry the assertion names: same ID number, same name (and card number, if given),
    insured in the channel's region."""
    number = idnumber.normalize(assertion.id_number)
    person = None
    if idnumber.is_valid(number):
        person = (await session.execute(select(InsuredPerson).where(
            InsuredPerson.id_number_hash == idnumber.lookup_hash(number)))).scalar_one_or_none()
    if person is None:
        raise refused("channel_person_unknown")
    name_ok = hmac.compare_digest(person.name.encode(), assertion.name.encode())
    card_ok = assertion.card_number is None or hmac.compare_digest(
        person.card_number.upper().encode(), assertion.card_number.upper().encode())
    if not (name_ok and card_ok):
        raise refused("channel_person_mismatch")
    if person.region_code != assertion.channel.region_code:
        raise refused("channel_person_other_region")
    return person
