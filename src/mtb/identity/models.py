"""The insured registry, staff accounts, and login throttling counters."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, Index, Integer, String, Text, Uuid, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from mtb.db.engine import Base, UTCDateTime


class InsuranceType(StrEnum):
    employee = "employee"  # 职工医保
    resident = "resident"  # 居民医保


class PersonStatus(StrEnum):
    active = "active"
    suspended = "suspended"


class StaffRole(StrEnum):
    reviewer = "reviewer"
    window = "window"
    admin = "admin"


class InsuredPerson(Base):
    """One insured person. The ID number is never stored in clear (see identity/idnumber.py)."""

    __tablename__ = "insured_persons"
    __table_args__ = (
        # The review queue's search (review/queue.py): a name or its beginning is one range of this index.
        # On PostgreSQL the index (and the search) use the "C" collation: code-point order, whatever the
        # database's collation, as SQLite's default BINARY is.
        Index("ix_insured_persons_name", "name").ddl_if(dialect="sqlite"),
        Index("ix_insured_persons_name", literal_column("name").collate("C")).ddl_if(dialect="postgresql"),
        Index("ix_insured_persons_last4", "id_number_last4"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64))
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_enc: Mapped[str] = mapped_column(Text)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    # The last four characters of the ID number, which people read out to find their case (the review
    # queue's search, ix_insured_persons_last4); the masked form shows the same four.
    id_number_last4: Mapped[str] = mapped_column(String(4), default="", server_default="")
    birth_date: Mapped[date] = mapped_column(Date)
    card_number: Mapped[str] = mapped_column(String(32))
    insurance_type: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PersonStatus.active)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RevokedToken(Base):
    """A login session ended by logout before its tokens' expiry (identity/tokens.py). The column keeps
    its first name, jti: it holds the session id (a token from before session ids: its own jti)."""

    __tablename__ = "revoked_tokens"

    session_id: Mapped[str] = mapped_column("jti", String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginThrottle(Base):
    """Failed logins per key (an ID number's hash, a username, a client address) within a window."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
