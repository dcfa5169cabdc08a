"""Time in one place: UTC instants in the database, business dates in the agency's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from mtb.settings import get_settings


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today() -> date:
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


def local_date(instant: datetime) -> date:
    """The agency's calendar day of an instant."""
    return instant.astimezone(ZoneInfo(get_settings().timezone)).date()
