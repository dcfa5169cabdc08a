"""What an export may say about a person without naming them: sex (read from the masked ID number, which
keeps the sequence digit), birth year, an age band (from the birth year alone: an age at a date would,
across dates, narrow down the birthday, see identity/idnumber.py), and a pseudonymous key.

The key is an HMAC of the person's row id under a key derived from MTB_DATA_KEY, so a statistician can
count people and follow one person across rows and exports, but cannot join the table back to the
registry, the FHIR ids or another system; it changes when the data key is rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import date
from functools import lru_cache
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def sex_of(masked_id_number: str) -> Literal["male", "female"] | None:
    """GB 11643: the 17th character (the last of the sequence code) is odd for men, even for women.
    `**************0021` keeps it as the second-to-last character."""
    if len(masked_id_number) != 18 or not masked_id_number[-2].isdigit():
        return None
    return "male" if int(masked_id_number[-2]) % 2 else "female"


def age_in_year(birth_year: int, day: date) -> int:
    """The age a person born in `birth_year` reaches in the year of `day` (the same all year long)."""
    return day.year - birth_year


def age_band(birth_year: int, day: date) -> str:
    """Ten-year bands (`0-9`, `10-19` … `80+`) of the age reached in the year of `day`."""
    age = age_in_year(birth_year, day)
    if age >= 80:
        return "80+"
    low = max(age, 0) // 10 * 10
    return f"{low}-{low + 9}"


@lru_cache(maxsize=4)
def _key(data_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mtb-export", info=b"person-key").derive(
        data_key.encode())


def person_key(person_id: uuid.UUID, *, data_key: str) -> str:
    """A stable pseudonym of 16 hex characters (64 bits) for one person."""
    return hmac.new(_key(data_key), person_id.bytes, hashlib.sha256).hexdigest()[:16]
