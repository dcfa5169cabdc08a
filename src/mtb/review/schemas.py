"""Review requests and answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from mtb.applications.schemas import ActorKind, DecisionOutcome, MaterialVerdict
from mtb.applications.states import ApplicationStatus


class ReasonIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    detail: str | None = Field(default=None, max_length=1000)


class MaterialVerdictIn(BaseModel):
    material_id: uuid.UUID
    verdict: MaterialVerdict
    comment: str | None = Field(default=None, max_length=500)


class DecisionIn(BaseModel):
    outcome: DecisionOutcome
    reasons: list[ReasonIn] = Field(default=[], max_length=20)
    materials: list[MaterialVerdictIn] = Field(default=[], max_length=50)
    note: str | None = Field(default=None, max_length=2000)
    all_acceptable: bool = Field(default=False, description=(
        "全部合格: mark every material of the application acceptable, except those given another verdict "
        "in `materials`."))
    confirm_unmarked: bool = Field(default=False, description=(
        "Approve although some required materials are not marked (the refusal `materials_unmarked` names "
        "them); the confirmation is audited with the materials. A required material marked unclear or "
        "invalid is never approved (`materials_not_acceptable`)."))


class ReasonCodeOut(BaseModel):
    code: str
    name: str
    needs_detail: bool


class QueueItem(BaseModel):
    id: uuid.UUID
    case_number: str | None
    disease_code: str
    disease_name: str
    hospital_name: str
    channel: str
    channel_name: str
    beneficiary_name: str
    beneficiary_id_number_masked: str
    status: ApplicationStatus
    status_label: str
    round: int
    submitted_at: datetime | None
    due_date: date | None
    due_date_provisional: bool = False  # counted on statutory holidays only: "预计"
    working_days_left: int | None
    overdue: bool
    claimed_by: str | None
    awaiting_confirmation: bool


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


class HistoryEntry(BaseModel):
    action: str
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus
    actor_kind: ActorKind
    actor: str | None
    reason: str | None
    detail: dict[str, object] | None
    round: int
    at: datetime


class SampleOut(BaseModel):
    id: uuid.UUID
    application_id: uuid.UUID
    drawn_at: datetime
    checked_by: str | None
    checked_at: datetime | None
    result: Literal["confirmed", "issue_found"] | None
    note: str | None


class SampleCheckIn(BaseModel):
    result: Literal["confirmed", "issue_found"]
    note: str | None = Field(default=None, max_length=2000)
