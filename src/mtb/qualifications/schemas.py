"""Qualification requests and answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

STATUS_LABELS = {"active": "有效", "expiring_soon": "即将到期", "expired": "已到期", "revoked": "已撤销",
                 "replaced": "已变更/已续期"}


class QualificationEventOut(BaseModel):
    action: str
    actor_kind: str
    reason: str | None
    detail: dict[str, Any] | None
    at: datetime


class QualificationOut(BaseModel):
    id: uuid.UUID
    application_id: uuid.UUID
    region_code: str
    disease_code: str
    disease_name: str
    hospital_code: str
    hospital_name: str
    insurance_type: str
    status: str
    status_label: str
    effective_at: datetime
    effective_from: date
    valid_until: date | None
    ended_on: date | None
    replaced_by: uuid.UUID | None
    review_period_years: int | None
    review_period_is_example: bool
    renewal_opens_on: date | None
    renewal_closes_on: date | None
    benefits: list[dict[str, Any]]
    history: list[QualificationEventOut]


class ChangeIn(BaseModel):
    hospital_code: str = Field(min_length=1, max_length=64)
    channel: str | None = Field(default=None, max_length=64)


class RenewIn(BaseModel):
    hospital_code: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=64)


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class EligibilityOut(BaseModel):
    eligible: bool
    reason: str | None
    reason_text: str | None
    qualification: dict[str, Any] | None
    reimbursement: list[dict[str, Any]]
