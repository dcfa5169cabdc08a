"""Applications, their history (the timeline and audit trail), idempotent submissions, and
cross-region filings (异地备案)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mtb.applications.states import OPEN
from mtb.db.engine import Base, UTCDateTime

_OPEN_SQL = "status IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(OPEN)))
# Spelled as the queue query spells it: SQLite uses a partial index only when the WHERE terms match.
_QUEUE_SQL = "status IN ('submitted', 'in_review')"
_WINDOW_SQL = "submitter_staff_id IS NOT NULL"
_CLAIMED_SQL = "claimed_by_id IS NOT NULL"


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        # One open application per person and disease, enforced by the database so two racing
        # requests cannot both create one.
        Index("uq_applications_open_per_disease", "beneficiary_id", "disease_code", unique=True,
              sqlite_where=text(_OPEN_SQL), postgresql_where=text(_OPEN_SQL)),
        Index("ix_applications_region_status_due", "region_code", "status", "due_date"),
        # The review queue in its own order, for the statuses it holds: a page is read straight off the
        # index instead of sorting every open application of the region (docs/benchmarks.md §6).
        Index("ix_applications_review_queue", "region_code", "due_date", "submitted_at", "id",
              sqlite_where=text(_QUEUE_SQL), postgresql_where=text(_QUEUE_SQL)),
        # A window clerk's own entries, newest first (the window page), without scanning everyone's.
        Index("ix_applications_window_entries", "submitter_staff_id", "created_at",
              sqlite_where=text(_WINDOW_SQL), postgresql_where=text(_WINDOW_SQL)),
        # The case number people read out (applications/case_number.py); unique, and looked up by staff.
        Index("uq_applications_case_number", "case_number", unique=True),
        # The applications a reviewer holds ("held now" on the queue page); only held ones are indexed.
        Index("ix_applications_claimed_by", "claimed_by_id",
              sqlite_where=text(_CLAIMED_SQL), postgresql_where=text(_CLAIMED_SQL)),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    region_code: Mapped[str] = mapped_column(String(6))
    catalog_version_id: Mapped[int] = mapped_column(ForeignKey("catalog_versions.id"))
    disease_code: Mapped[str] = mapped_column(String(64))
    hospital_code: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    # new: a first filing; change: another hospital for a filing; renewal: the next period of a filing.
    kind: Mapped[str] = mapped_column(String(16), default="new", server_default="new")
    qualification_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("qualifications.id", use_alter=True), nullable=True)
    laterality: Mapped[str | None] = mapped_column(String(64), nullable=True)
    beneficiary_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("insured_persons.id"), index=True)
    submitter_person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("insured_persons.id"), nullable=True, index=True)
    submitter_staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    relation: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    # 受理编号, given at the first submission (applications/case_number.py); None for a draft.
    case_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    round: Mapped[int] = mapped_column(Integer, default=0)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Counted on a year no published holiday schedule covers (the statutory fallback, catalog/workdays.py):
    # recomputed once the schedule is entered.
    due_date_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The reviewer holding the application (a claim lapses after MTB_CLAIM_IDLE_MINUTES).
    claimed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Two-stage review: the reviewer whose approval awaits a second reviewer's confirmation.
    pending_approval_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApplicationEvent(Base):
    """The append-only history: status changes (the applicant's timeline) and the other audited acts
    (claims, first approvals, window entries, staff viewing a material) with their actor."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32), default="status", server_default="status")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    round: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseNumberCounter(Base):
    """The last case number given per prefix and local business day (applications/case_number.py)."""

    __tablename__ = "case_number_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class IdempotentResponse(Base):
    """The answer given to a request with an Idempotency-Key, replayed for the same key."""

    __tablename__ = "idempotent_responses"
    __table_args__ = (UniqueConstraint("application_id", "action", "key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"))
    action: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CrossRegionFiling(Base):
    """A person insured in one region, filed for treatment in another (异地就医备案)."""

    __tablename__ = "cross_region_filings"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    person_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("insured_persons.id"), index=True)
    insured_region_code: Mapped[str] = mapped_column(String(6))
    treatment_region_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
