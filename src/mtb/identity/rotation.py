"""Rotating the data key (`mtb keys rotate`): every stored ID number re-encrypted, every lookup hash
recomputed, under the new key.

The key derivation is idnumber's own (`_keys`); the helpers here take the key as an argument because
a rotation holds two keys at once, while the rest of the code only ever uses the configured one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.identity.idnumber import _keys
from mtb.identity.models import InsuredPerson, LoginThrottle

_BATCH = 1000


class RotationFailed(Exception):
    """The rotation cannot be done; the caller's transaction must roll back. Never carries an ID number."""


@dataclass(frozen=True)
class RotationResult:
    people: int
    throttles_cleared: int


async def rotate_data_key(session: AsyncSession, *, old_key: str, new_key: str) -> RotationResult:
    """Re-encrypt every insured person's ID number from `old_key` to `new_key`, in the caller's transaction.

    Steps: refuse equal keys; for each batch of people (in id order), decrypt with the old key and check
    the number against its old lookup hash, then write the new ciphertext and hash; finally delete the
    login-throttle counters keyed by old hashes (`id:<hash>`), which the new hashes could never match.
    Any row that does not decrypt raises `RotationFailed`: the caller rolls everything back.
    """
    if not old_key or not new_key:
        raise RotationFailed("both the old and the new data key must be given")
    if hmac.compare_digest(old_key.encode(), new_key.encode()):
        raise RotationFailed("the old and the new data key are the same: nothing to rotate")
    people = 0
    last: uuid.UUID | None = None
    while True:
        query = select(InsuredPerson.id, InsuredPerson.id_number_enc, InsuredPerson.id_number_hash)
        if last is not None:
            query = query.where(InsuredPerson.id > last)
        batch = (await session.execute(query.order_by(InsuredPerson.id).limit(_BATCH))).all()
        if not batch:
            break
        changes = []
        for person_id, token, old_hash in batch:
            number = _decrypt(token, old_key, person_id)
            if not hmac.compare_digest(lookup_hash(number, old_key), old_hash):
                raise RotationFailed(f"insured person {person_id}: the decrypted ID number does not match "
                                     "its lookup hash under the old key")
            changes.append({"id": person_id, "id_number_enc": encrypt(number, new_key),
                            "id_number_hash": lookup_hash(number, new_key)})
        await session.execute(update(InsuredPerson), changes)
        people += len(batch)
        last = batch[-1][0]
    cleared = await session.execute(delete(LoginThrottle).where(LoginThrottle.key.startswith("id:")))
    await session.flush()
    return RotationResult(people=people, throttles_cleared=cleared.rowcount or 0)  # type: ignore[attr-defined]


def lookup_hash(number: str, data_key: str) -> str:
    hash_key, _ = _keys(data_key)
    return hmac.new(hash_key, number.encode(), hashlib.sha256).hexdigest()


def encrypt(number: str, data_key: str) -> str:
    _, enc_key = _keys(data_key)
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(enc_key).encrypt(nonce, number.encode(), b"id")).decode()


def decrypt(token: str, data_key: str) -> str:
    _, enc_key = _keys(data_key)
    raw = base64.b64decode(token, validate=True)
    return AESGCM(enc_key).decrypt(raw[:12], raw[12:], b"id").decode()


def _decrypt(token: str, data_key: str, person_id: uuid.UUID) -> str:
    try:
        return decrypt(token, data_key)
    except (InvalidTag, binascii.Error, ValueError):
        raise RotationFailed(f"insured person {person_id}: the ID number does not decrypt with the old key "
                             "(MTB_OLD_DATA_KEY)") from None
