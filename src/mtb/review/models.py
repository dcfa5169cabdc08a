"""Review decisions (one per decided round, plus a first approval awaiting confirmation) and the
quality sample of approvals."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from mtb.db.engine import Base, UTCDateTime


class ReviewDecision(Base):
    __tablename__ = "review_decisions"
    # A reviewer's decisions by time: "decided today" on the queue page.
    __table_args__ = (Index("ix_review_decisions_reviewer_day", "reviewer_id", "decided_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    # approve | return | reject; stage 1 of a two-stage approval is "approve" with final = False
    outcome: Mapped[str] = mapped_column(String(16))
    final: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    material_verdicts: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The reviewer who decided, or None when a rule of the catalog did (the fast track of the pre-review).
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    rule: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QualitySample(Base):
    """An approval drawn at random for a senior reviewer's check; the approval stands meanwhile."""

    __tablename__ = "quality_samples"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"), unique=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    decision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("review_decisions.id"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    result: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
