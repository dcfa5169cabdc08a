"""Time in one place: UTC instants in the database, business dates in the agency's time zone.

Every reading of the clock goes through `utcnow`, so tests can stop it (`freeze`) and walk a filing
through its years.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from mtb.settings import get_settings

_frozen: datetime | None = None


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
