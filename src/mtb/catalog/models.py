"""Catalog versions as stored: one row per region and version, the validated document as JSON.

Versions are immutable once loaded, so applications made under one keep its rules whatever is loaded
later, and a parsed document can be cached by its row id for the life of the process.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mtb.db import Base, UTCDateTime


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
