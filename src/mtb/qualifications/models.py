"""A qualification: the filing an approval creates (Beijing: 备案生效; Hubei: 待遇资格认定)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from mtb.db.engine import Base, UTCDateTime


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
    # Cover ends before this day when the filing was replaced (change, renewal) or revoked.
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("qualifications.id"), nullable=True)
    review_period_years: Mapped[int | None] = mapped_column(Integer, nullable=True)
    benefits: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QualificationEvent(Base):
    """The history of a filing: granted, replaced (change, renewal), expired, revoked, reminded."""

    __tablename__ = "qualification_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    qualification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("qualifications.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReminderSent(Base):
    """A reminder `days_before` expiry that has been sent: the primary key makes sending it once."""

    __tablename__ = "reminders_sent"

    qualification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("qualifications.id"), primary_key=True)
    days_before: Mapped[int] = mapped_column(Integer, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HospitalKey(Base):
    """An API key of a designated hospital for the eligibility check; only its hash is stored."""

    __tablename__ = "hospital_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    hospital_code: Mapped[str] = mapped_column(String(64), index=True)
    region_code: Mapped[str] = mapped_column(String(6))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
