"""Time in one place: UTC instants in the database, business dates in the agency's time zone.

Every reading of the clock goes through `utcnow`, so tests can stop it (`freeze`) and walk a filing
through its years.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field

from mtb.settings import get_settings

_frozen: datetime | None = None

# The business days any input may name (a period of an export, the day of an eligibility check, the
# dates of a filing). Far inside `date`'s own range, so a day plus a year, a timedelta or a time zone
# never overflows (0001-01-01 in an export's `from` once answered 500 with an OverflowError).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY,
                            description=f"a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")]


def utcnow() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Stop the clock at `at` (None lets it run again). For tests."""
    global _frozen
    _frozen = at


def local_date(instant: datetime) -> date:
    """The agency's calendar day of an instant."""
    return instant.astimezone(ZoneInfo(get_settings().timezone)).date()


def local_today() -> date:
    return local_date(utcnow())
