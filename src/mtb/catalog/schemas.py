"""What the public catalog API returns: everything a channel client must send or show."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from mtb.catalog.document import Benefit, ContactItem, Declaration, Option, Rule
from mtb.review.schemas import ReasonCodeOut


class CodeNameOut(BaseModel):
    code: str
    name: str


class RegionChannelOut(BaseModel):
    """A channel people apply through in a region (app, mini-program, the window); see mtb.channels
    for the registered channel apps that log people in."""

    code: str = Field(description="What an application sends as `channel`")
    name: str
    kind: Literal["online", "window"]
    note: str = ""


class PhysicianTitleOut(BaseModel):
    code: str = Field(description="What an upload sends as `physician_title`")
    name: str
    rank: int = Field(description="0 is the lowest; a rule's minimum title compares ranks")


class MaterialFieldOut(BaseModel):
    """A form field an upload of this material sends with the file."""

    name: Literal["physician_title", "issuing_hospital", "issue_date"] = Field(description="The form field's name")
    label: str
    required: bool
    allowed: list[CodeNameOut] | None = Field(
        default=None, description="The only values accepted (send `code`); None: free text or a date")
    format: Literal["date"] | None = Field(default=None, description="`date`: YYYY-MM-DD")


class MaterialKindOut(BaseModel):
    kind: str = Field(description="What an upload sends as `kind`")
    name: str
    requirement: str
    generated: bool
    requires_seal: bool
    fields: list[MaterialFieldOut]
    max_age_days: int | None = Field(default=None, description="An older `issue_date` is a warning, not a refusal")
    max_age_is_example: bool = False
    how_to: str = ""


class ContactOut(BaseModel):
    """`value` None: the source documents do not state it; `is_example`: shown for illustration, to confirm."""

    window_address: ContactItem
    window_hours: ContactItem
    hotline: ContactItem


class RegionOut(BaseModel):
    code: str
    name: str
    program: str
    entry: str
    catalog_version: str
    effective_from: date
    channels: list[RegionChannelOut]
    physician_titles: list[PhysicianTitleOut] = []
    material_kinds: list[MaterialKindOut] = []
    relations: list[CodeNameOut] = Field(
        default=[], description="What an agent application sends as `beneficiary.relation`")
    contact: ContactOut | None = None
    declaration: Declaration | None = Field(
        default=None, description="Confirmed before submitting: send its `version` as `declaration_version`")
    reason_codes: list[ReasonCodeOut] = Field(
        default=[], description="The codes a decision's reasons carry (shown to the applicant by name)")


class MaterialRequirementOut(BaseModel):
    kind: str
    name: str
    required: bool
    requirement: str
    generated: bool
    requires_seal: bool
    fields: list[str] = Field(description="The names of `field_specs`, kept for older clients")
    field_specs: list[MaterialFieldOut] = []


class DiseaseOut(BaseModel):
    code: str
    name: str
    category: str
    category_name: str
    group: str
    national_codes: list[str]
    national_code_status: Literal["to_verify", "verified"]
    review_period_years: int | None
    review_period_is_example: bool
    laterality: list[Option] | None = Field(description="When set, an application sends one `code` as `laterality`")
    materials: list[MaterialRequirementOut]
    rules: list[Rule]
    benefits: list[Benefit]
    note: str


class HospitalOut(BaseModel):
    code: str
    name: str
    level: str
    is_example: bool
