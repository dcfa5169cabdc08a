"""Application requests and answers (the public API contract, architecture.md)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from mtb.applications.states import ApplicationStatus
from mtb.prereview.schemas import PrereviewOut
from mtb.timeutil import Day


class Relation(StrEnum):
    """What the beneficiary (参保人) is to the person applying for them (代办人), in that one direction:
    `parent` means the agent files for their father or mother ("参保人是您的：父母"). The agent is then the
    beneficiary's `AGENT_IS[relation]` (a child). Pages word it from each reader's side (web/casework.py applicant_line)."""

    spouse = "spouse"
    parent = "parent"
    child = "child"
    sibling = "sibling"
    other_relative = "other_relative"
    other = "other"


class ApplicationKind(StrEnum):
    new = "new"
    change = "change"      # of the designated hospital of a filing
    renewal = "renewal"    # of a filing before it expires


class MaterialVerdict(StrEnum):
    acceptable = "acceptable"
    unclear = "unclear"
    invalid = "invalid"


class DecisionOutcome(StrEnum):
    approve = "approve"
    return_ = "return"
    reject = "reject"


# Who the applicant is to the beneficiary: `self` when people apply for themselves.
RelationToApplicant = Literal["self", "spouse", "parent", "child", "sibling", "other_relative", "other"]
class ActorKind(StrEnum):
    person = "person"
    staff = "staff"
    system = "system"   # the periodic jobs

VERDICT_LABELS = {"acceptable": "合格", "unclear": "不清晰，请重新上传", "invalid": "无效，请更换"}
OUTCOME_LABELS = {"approve": "审核通过", "return": "退回补正", "reject": "不予通过"}

RELATION_LABELS = {"self": "本人", "spouse": "配偶", "parent": "父母", "child": "子女",
                   "sibling": "兄弟姐妹", "other_relative": "其他亲属", "other": "其他"}
# The other direction: what the agent is to the beneficiary, for each `Relation` (beneficiary to agent).
AGENT_IS = {"self": "self", "spouse": "spouse", "parent": "child", "child": "parent", "sibling": "sibling",
            "other_relative": "other_relative", "other": "other"}


class BeneficiaryIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=1, max_length=32)
    card_number: str = Field(min_length=1, max_length=64)
    relation: Relation = Field(description="What this person (the beneficiary) is to the one applying: "
                                           "`parent` = applying for one's father or mother")


class ApplicationCreate(BaseModel):
    region_code: str = Field(pattern=r"^\d{6}$")
    disease_code: str = Field(min_length=1, max_length=64)
    hospital_code: str = Field(min_length=1, max_length=64)
    channel: str = Field(min_length=1, max_length=64)
    beneficiary: BeneficiaryIn | None = None
    laterality: str | None = Field(default=None, max_length=64)


class SubmitIn(BaseModel):
    # The version of the region's declaration the applicant confirmed (GET /api/v1/regions/{code}: declaration).
    declaration_version: str | None = Field(default=None, max_length=64)


class WithdrawIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class CodeName(BaseModel):
    code: str
    name: str


class PersonRef(BaseModel):
    name: str
    id_number_masked: str


class MaterialWarning(BaseModel):
    """Something about an accepted file the applicant may want to fix (e.g. a low-resolution photo)."""

    code: str
    message: str


class MaterialFields(BaseModel):
    """What the applicant stated about a certificate, where its material kind asks for it; a field not
    stated is left out."""

    physician_title: str | None = Field(default=None, exclude_if=lambda v: v is None)
    issuing_hospital: str | None = Field(default=None, exclude_if=lambda v: v is None)
    issue_date: str | None = Field(default=None, exclude_if=lambda v: v is None)


class MaterialOut(BaseModel):
    id: uuid.UUID
    kind: str
    kind_name: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    pages: int | None
    width: int | None
    height: int | None
    warnings: list[MaterialWarning]
    fields: MaterialFields
    verdict: MaterialVerdict | None
    verdict_label: str | None
    verdict_comment: str | None
    created_at: datetime
    download_url: str


class ChecklistItem(BaseModel):
    kind: str
    name: str
    required: bool
    generated: bool
    requirement: str
    uploaded: int


class TimelineEntry(BaseModel):
    from_status: ApplicationStatus | None
    to_status: ApplicationStatus
    label: str
    actor_kind: ActorKind
    reason: str | None
    round: int
    at: datetime


class DecisionReason(BaseModel):
    code: str
    name: str
    detail: str


class MaterialVerdictOut(BaseModel):
    material_id: uuid.UUID
    verdict: MaterialVerdict
    comment: str


class DecisionOut(BaseModel):
    round: int
    outcome: DecisionOutcome
    outcome_label: str
    reasons: list[DecisionReason]
    materials: list[MaterialVerdictOut]
    note: str | None
    decided_at: datetime


class ApplicationStatusOut(BaseModel):
    """Where an application stands, for an applicant polling it (the full read is GET /applications/{id}):
    its status and due date, and the latest decision with its reasons."""

    id: uuid.UUID
    case_number: str | None = Field(description="受理编号, given at the first submission; null for a draft")
    kind: ApplicationKind
    status: ApplicationStatus
    status_label: str
    round: int
    disease: CodeName
    hospital: CodeName
    submitted_at: datetime | None
    due_date: date | None
    # Counted on a year whose holiday schedule is not published yet (statutory holidays only): "预计".
    due_date_provisional: bool = False
    # "example": the region's review time is not stated by its source documents (catalog review_due_is_example).
    due_date_basis: str = "policy"
    updated_at: datetime
    awaiting_confirmation: bool
    decision: DecisionOut | None


class ApplicationOut(BaseModel):
    id: uuid.UUID
    case_number: str | None = Field(description="受理编号 (e.g. BJ20261206-000123), given at the first "
                                                "submission and kept on resubmission; null for a draft")
    kind: ApplicationKind
    qualification_id: uuid.UUID | None
    region_code: str
    region_name: str
    catalog_version: str
    disease: CodeName
    hospital: CodeName
    channel: CodeName
    laterality: CodeName | None
    relation: RelationToApplicant = Field(
        description="What the beneficiary is to the applicant (`self` when applying for oneself; `parent`: the "
                    "agent applies for their father or mother)")
    relation_label: str = Field(description="`relation` in Chinese, e.g. 父母 (the beneficiary is the agent's parent)")
    agent_relation_label: str | None = Field(
        default=None, description="The other direction, what the agent is to the beneficiary, e.g. 子女; "
                                  "null when applying for oneself or entered at the window")
    beneficiary: PersonRef
    submitted_by: str
    status: ApplicationStatus
    status_label: str
    round: int
    due_date: date | None
    # Counted on a year whose holiday schedule is not published yet (statutory holidays only): "预计".
    due_date_provisional: bool = False
    # "example": the region's review time is not stated by its source documents (catalog review_due_is_example).
    due_date_basis: str = "policy"
    submitted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    materials: list[MaterialOut]
    checklist: list[ChecklistItem]
    decision: DecisionOut | None
    decisions: list[DecisionOut]
    awaiting_confirmation: bool
    timeline: list[TimelineEntry]
    # The automated pre-review's findings per material: for the region's staff only (None for applicants).
    prereview: PrereviewOut | None = None


class ApplicationSummary(BaseModel):
    id: uuid.UUID
    case_number: str | None
    kind: ApplicationKind
    region_code: str
    disease: CodeName
    hospital: CodeName
    beneficiary: PersonRef
    status: ApplicationStatus
    status_label: str
    due_date: date | None
    # Counted on a year whose holiday schedule is not published yet (statutory holidays only): "预计".
    due_date_provisional: bool = False
    # "example": the region's review time is not stated by its source documents (catalog review_due_is_example).
    due_date_basis: str = "policy"
    created_at: datetime


class CrossRegionFilingIn(BaseModel):
    treatment_region_code: str = Field(pattern=r"^\d{6}$")
    valid_from: Day | None = None
    valid_until: Day | None = None


class CrossRegionFilingOut(BaseModel):
    id: uuid.UUID
    insured_region_code: str
    treatment_region_code: str
    treatment_region_name: str | None
    status: Literal["active"]
    valid_from: date
    valid_until: date | None
    created_at: datetime
