"""Resident ID numbers (身份证号, GB 11643): checking, masking, keyed lookup hash, encryption at rest.

The full number is only ever held in memory; the database keeps an AES-GCM ciphertext (to print it on
a form for its owner), an HMAC for lookup, and the masked form for display.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import unicodedata
from datetime import date
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from mtb.settings import get_settings


def unify(raw: str) -> str:
    """Text as MTB reads typed digits: NFKC (full-width, 𝟏, ¹, ①), whitespace anywhere dropped."""
    return "".join(unicodedata.normalize("NFKC", raw).split())


def normalize(raw: str) -> str:
    """As typed on a phone: spaces anywhere (people group the digits), full-width digits, a lower-case x."""
    return unify(raw).upper()


def typing_problem(number: str) -> str | None:
    """What is visibly wrong with a (normalized) number, to say before any registry lookup: its length,
    its characters, or its GB 11643 check digit (public arithmetic, so saying it tells nothing about anyone)."""
    if len(number) != 18:
        return f"身份证号应为 18 位，您填写了 {len(number)} 位，请核对"
    if not (number[:17].isascii() and number[:17].isdigit()) or not (number[17].isdigit() or number[17] == "X"):
        return "身份证号前 17 位应为数字，最后一位为数字或字母 X，请核对"
    if number[-1] != ric.calc_check_digit(number):
        return "身份证号不是有效号码（最后一位校验码与前 17 位不符），请逐位核对后重新填写"
    return None


def is_valid(number: str) -> bool:
    """18 characters, the GB 11643 check digit, a real birth date, and a birth place that existed in the
    birth year: python-stdnum's checks, with the place lookup (its slow part) remembered per place and year."""
    if len(number) != 18 or not (number[:17].isascii() and number[:17].isdigit()):
        return False
    try:
        if number[-1] != ric.calc_check_digit(number):
            return False
        year = ric.get_birth_date(number).year
    except (ValidationError, ValueError):
        return False
    return _birth_place_known(number[:6], year, number)


def _birth_place_known(place: str, year: int, number: str) -> bool:
    key = (place, year)
    known = _places.get(key)
    if known is None:
        try:
            ric.get_birth_place(number)
            known = True
        except (ValidationError, KeyError):  # stdnum raises KeyError for a division with no county entry
            known = False
        _places[key] = known
    return known


# (division code, birth year) -> whether the division existed then; bounded by the table's size.
_places: dict[tuple[str, int], bool] = {}


# What a masked number shows: its last four characters only (the end of the sequence code, whose last
# digit is the sex, and the check digit). Nothing MTB shows next to it may complete it: never the birth
# date (a birth year at most), and not the place of birth either (the first six digits): with the place
# known and the birth date shown, the old mask `110105********0021` was the full number. With what a
# reader sees now (the birth year, the insured region), a masked number has hundreds of candidates or,
# in a one-county region, at least ~33 (365 days / 11 check digits); tests/security/test_id_completion.py.
MASK_SHOWN = 4


def mask(number: str) -> str:
    """`110105194912310021` → `**************0021`. Also re-masks an older or foreign masked form of
    18 characters (`110105********0021` → `**************0021`)."""
    if len(number) != 18:
        return "*" * len(number)
    return "*" * (18 - MASK_SHOWN) + number[-MASK_SHOWN:]


def masks_agree(a: str, b: str) -> bool:
    """Whether two masked (or full) forms of 18 characters can be the same number: they agree wherever
    both show a character, and both show at least the last four."""
    if len(a) != 18 or len(b) != 18 or "*" in a[-MASK_SHOWN:] + b[-MASK_SHOWN:]:
        return False
    return all(x == y for x, y in zip(a.upper(), b.upper(), strict=True) if x != "*" and y != "*")


def last4(number: str) -> str:
    """The last four characters (the order code and the check character): what a person reads out to
    find their case, and what the masked form keeps."""
    return number[-4:].upper()


def region_name(code: str) -> str | None:
    """The full name of an administrative division code (province, prefecture, county), from
    python-stdnum's table; None if the code is unknown."""
    if len(code) != 6 or not code.isdigit():
        return None
    county = _division(code)
    if county is None:
        return None
    province = _division(code[:2] + "0000") or ""
    prefecture = _division(code[:4] + "00") if code[4:] != "00" else None
    if prefecture in ("市辖区", "县", "省直辖县级行政单位", "自治区直辖县级行政单位"):
        prefecture = None
    return "".join(dict.fromkeys(n for n in (province, prefecture, county) if n))


def within(code: str, region: str) -> bool:
    """Whether division `code` lies in `region` (a province 110000, a prefecture 420100, or a county)."""
    if region.endswith("0000"):
        return code[:2] == region[:2]
    if region.endswith("00"):
        return code[:4] == region[:4]
    return code == region


def _division(code: str) -> str | None:
    info = numdb.get("cn/loc").info(code)
    if len(info) < 2 or not info[1][1].get("county"):
        return None
    # Entries carry their years of validity, e.g. "[1983-]江岸区"; the name is what follows.
    return re.sub(r"^\[[^\]]*\]", "", info[1][1]["county"])


@lru_cache(maxsize=4)
def _keys(data_key: str) -> tuple[bytes, bytes]:
    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mtb-id-number", info=info).derive(
            data_key.encode())
    return derive(b"lookup-hash"), derive(b"encryption")


def derived_keys(data_key: str) -> tuple[bytes, bytes]:
    """(lookup-hash key, encryption key) derived from `data_key`: for bulk tools (bench/generate.py) that
    make many hashes and ciphertexts exactly as `lookup_hash` and `encrypt` do."""
    return _keys(data_key)


def lookup_hash(number: str, *, data_key: str | None = None) -> str:
    hash_key, _ = _keys(data_key or get_settings().data_key)
    return hmac.new(hash_key, number.encode(), hashlib.sha256).hexdigest()


def encrypt(number: str, *, data_key: str | None = None) -> str:
    _, enc_key = _keys(data_key or get_settings().data_key)
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(enc_key).encrypt(nonce, number.encode(), b"id")).decode()


def decrypt(token: str, *, data_key: str | None = None) -> str:
    _, enc_key = _keys(data_key or get_settings().data_key)
    raw = base64.b64decode(token)
    return AESGCM(enc_key).decrypt(raw[:12], raw[12:], b"id").decode()


def with_check_digit(first17: str) -> str:
    """Complete 17 digits with their check digit: used to make valid, clearly fake demo numbers."""
    return first17 + ric.calc_check_digit(first17 + "0")


def birth_date(number: str) -> date:
    return ric.get_birth_date(number)
