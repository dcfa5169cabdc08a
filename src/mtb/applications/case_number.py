"""The case number (受理编号) people read out on the phone: `BJ20261206-000123`.

Given when an application is first submitted (受理: the agency takes it in), not when a draft is made: the
date in it is the day the review period starts counting from, drafts that are never sent do not use up
numbers, so the sequence is that day's submissions, and a resubmission after 补正 keeps its number. A draft
has none (the API answers `case_number: null`).

The prefix is the province's letters of ISO 3166-2:CN for the region code's first two digits (BJ Beijing,
HB Hubei): an identifier format, not policy. The sequence counts per prefix and local business day in
`case_number_counters`, incremented by one upsert in the submitting transaction: a submission that fails
rolls its number back, two concurrent submissions queue on the counter row and get consecutive numbers, and
the unique index on `applications.case_number` is the last guard.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# ISO 3166-2:CN subdivision codes, keyed by the first two digits of the GB/T 2260 division code.
PROVINCE_LETTERS = {
    "11": "BJ", "12": "TJ", "13": "HE", "14": "SX", "15": "NM", "21": "LN", "22": "JL", "23": "HL",
    "31": "SH", "32": "JS", "33": "ZJ", "34": "AH", "35": "FJ", "36": "JX", "37": "SD", "41": "HA",
    "42": "HB", "43": "HN", "44": "GD", "45": "GX", "46": "HI", "50": "CQ", "51": "SC", "52": "GZ",
    "53": "YN", "54": "XZ", "61": "SN", "62": "GS", "63": "QH", "64": "NX", "65": "XJ", "71": "TW",
    "81": "HK", "82": "MO",
}
PATTERN = re.compile(r"^[A-Z]{2}\d{8}-\d{6,}$")

_NEXT = text(
    "INSERT INTO case_number_counters (prefix, day, last) VALUES (:prefix, :day, 1) "
    "ON CONFLICT (prefix, day) DO UPDATE SET last = case_number_counters.last + 1 RETURNING last")


def prefix_for(region_code: str) -> str:
    return PROVINCE_LETTERS.get(region_code[:2], "CN")


def format_case_number(prefix: str, day: date, sequence: int) -> str:
    return f"{prefix}{day:%Y%m%d}-{sequence:06d}"


def normalize(raw: str) -> str:
    """What a person or a reviewer typed, as stored: spaces gone, letters upper case."""
    return re.sub(r"\s+", "", raw).upper()


async def next_case_number(session: AsyncSession, *, region_code: str, day: date) -> str:
    prefix = prefix_for(region_code)
    sequence = (await session.execute(_NEXT, {"prefix": prefix, "day": day})).scalar_one()
    return format_case_number(prefix, day, int(sequence))
