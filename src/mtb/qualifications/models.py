"""A qualification: the filing an approval creates (Beijing: 备案生效; Hubei: 待遇资格认定)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from mtb.db import Base, UTCDateTime


class QualificationStatus(StrEnum):
    active = "active"
    expired = "expired"
    revoked = "revoked"
    replaced = "replaced"


class Qualification(Base):
    __tablename__ = "qualifications"
    __table_args__ = (
        Index("uq_qualifications_active_per_disease", "person_id", "disease_code", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("insured_persons.id"), index=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"), unique=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    catalog_version_id: Mapped[int] = mapped_column(ForeignKey("catalog_versions.id"))
    disease_code: Mapped[str] = mapped_column(String(64))
    hospital_code: Mapped[str] = mapped_column(String(64))
    insurance_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    effective_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    review_period_years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    benefits: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
