"""Rotating the data key (`mtb keys rotate`): every stored ID number re-encrypted, every lookup hash
recomputed, under the new key.

A rotation holds two keys at once, so it passes them explicitly to idnumber's functions (which
otherwise use the configured key).
"""

from __future__ import annotations

import binascii
import hmac
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.identity import idnumber
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
            if not hmac.compare_digest(idnumber.lookup_hash(number, data_key=old_key), old_hash):
                raise RotationFailed(f"insured person {person_id}: the decrypted ID number does not match "
                                     "its lookup hash under the old key")
            changes.append({"id": person_id, "id_number_enc": idnumber.encrypt(number, data_key=new_key),
                            "id_number_hash": idnumber.lookup_hash(number, data_key=new_key)})
        await session.execute(update(InsuredPerson), changes)
        people += len(batch)
        last = batch[-1][0]
    cleared = await session.execute(delete(LoginThrottle).where(LoginThrottle.key.startswith("id:")))
    await session.flush()
    return RotationResult(people=people, throttles_cleared=cleared.rowcount or 0)  # type: ignore[attr-defined]


def _decrypt(token: str, data_key: str, person_id: uuid.UUID) -> str:
    try:
        return idnumber.decrypt(token, data_key=data_key)
    except (InvalidTag, binascii.Error, ValueError):
        raise RotationFailed(f"insured person {person_id}: the ID number does not decrypt with the old key "
                             "(MTB_OLD_DATA_KEY)") from None
