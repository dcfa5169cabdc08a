"""Catalog versions as stored: one row per region and version, the validated document as JSON.

Versions are immutable once loaded, so applications made under one keep its rules whatever is loaded
later, and a parsed document can be cached by its row id for the life of the process.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mtb.db.engine import Base, UTCDateTime


class CatalogVersion(Base):
    __tablename__ = "catalog_versions"
    __table_args__ = (
        UniqueConstraint("region_code", "version"),
        UniqueConstraint("region_code", "effective_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    version: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[date] = mapped_column(Date)
    sha256: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(String(500))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarYear(Base):
    """The State Council's holiday schedule for one year, as an administrator entered it (the admin page
    or `mtb calendar load`). It outranks chinesecalendar and the statutory fallback (workdays.py)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[str]] = mapped_column(JSON)  # ISO dates: days off, weekdays taken off included
    workdays: Mapped[list[str]] = mapped_column(JSON)  # ISO dates: weekend days made working days (调休上班)
    source: Mapped[str] = mapped_column(String(500))  # the notice, e.g. 国务院办公厅关于2027年部分节假日安排的通知
    entered_by: Mapped[str] = mapped_column(String(200))  # a staff username, or "mtb calendar load FILE"
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
