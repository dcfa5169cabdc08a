"""Qualification requests and answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from mtb.applications.schemas import ActorKind
from mtb.identity.models import InsuranceType
from mtb.qualifications.models import QualificationStatus

STATUS_LABELS = {"active": "有效", "expiring_soon": "即将到期", "expired": "已到期", "revoked": "已撤销",
                 "replaced": "已变更/已续期"}


class FilingStatus(StrEnum):
    """A filing's status as shown: `expiring_soon` is an active filing close to its end."""

    active = "active"
    expiring_soon = "expiring_soon"
    expired = "expired"
    revoked = "revoked"
    replaced = "replaced"


class EligibilityReason(StrEnum):
    """Why a person is not eligible at a hospital on a day."""

    no_filing = "no_filing"
    not_yet_effective = "not_yet_effective"
    expired = "expired"
    revoked = "revoked"
    replaced = "replaced"


class BenefitOut(BaseModel):
    """Benefit data a filing was granted with, from the catalog; `is_example` values are not policy."""

    insurance_type: InsuranceType
    reimbursement_ratio: float | None = None
    annual_limit_yuan: int | None = None
    note: str = ""
    is_example: bool = False


class QualificationEventOut(BaseModel):
    action: str
    actor_kind: ActorKind
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
    insurance_type: InsuranceType
    status: FilingStatus
    status_label: str
    effective_at: datetime
    effective_from: date
    valid_until: date | None
    ended_on: date | None
    replaced_by: uuid.UUID | None
    review_period_years: int | None
    review_period_is_example: bool
    # "example": valid_until follows from a re-review period the source documents do not state.
    valid_until_basis: Literal["policy", "example"] = "policy"
    renewal_opens_on: date | None
    renewal_closes_on: date | None
    # "example": the renewal window (opens before, grace after) is an example value.
    renewal_basis: Literal["policy", "example"] = "policy"
    benefits: list[BenefitOut]
    history: list[QualificationEventOut]


class ChangeIn(BaseModel):
    hospital_code: str = Field(min_length=1, max_length=64)
    channel: str | None = Field(default=None, max_length=64)


class RenewIn(BaseModel):
    hospital_code: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=64)


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


class EligibleFiling(BaseModel):
    """The asking hospital's filing in force that day (given only with a yes)."""

    id: uuid.UUID
    id_number_masked: str
    disease_code: str
    hospital_code: str
    insurance_type: InsuranceType
    status: QualificationStatus
    effective_from: date
    valid_until: date | None


class EligibilityOut(BaseModel):
    eligible: bool
    reason: EligibilityReason | None
    reason_text: str | None
    qualification: EligibleFiling | None
    reimbursement: list[BenefitOut]
    # "example": the answer turns on a validity end computed from an example re-review period.
    basis: Literal["policy", "example"] = "policy"
