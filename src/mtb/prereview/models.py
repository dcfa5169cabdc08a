"""The pre-review of a material: its state in the job queue, what was read, and the findings."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from mtb.db.engine import Base, UTCDateTime


class PrereviewStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"  # the file could not be read at all (after the attempts allowed)
    unavailable = "unavailable"  # no OCR engine in this installation


class MaterialPrereview(Base):
    """One row per material of a kind the pre-review reads, made with the material. Workers claim a
    row by a conditional update of its status."""

    __tablename__ = "material_prereviews"
    __table_args__ = (
        Index("ix_material_prereviews_pending", "status", "created_at"),
        Index("ix_material_prereviews_reuse", "application_id", "sha256", "kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Kept (without its material) when the material is removed: a replacement with the same file reuses it.
    material_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("materials.id", ondelete="SET NULL"),
                                                          unique=True, nullable=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=PrereviewStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    engine: Mapped[str | None] = mapped_column(String(64), nullable=True)
    readable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # The fields read (the ID number only as its keyed hash and masked form), and the findings.
    extracted: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
