"""What the public catalog API returns."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from mtb.catalog.document import Benefit, Option, Rule


class RegionChannelOut(BaseModel):
    """A channel people apply through in a region (app, mini-program, the window); see mtb.channels
    for the registered channel apps that log people in."""

    code: str
    name: str
    kind: Literal["online", "window"]


class RegionOut(BaseModel):
    code: str
    name: str
    program: str
    entry: str
    catalog_version: str
    effective_from: date
    channels: list[RegionChannelOut]


class MaterialRequirementOut(BaseModel):
    kind: str
    name: str
    required: bool
    requirement: str
    generated: bool
    requires_seal: bool
    fields: list[str]


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
    laterality: list[Option] | None
    materials: list[MaterialRequirementOut]
    rules: list[Rule]
    benefits: list[Benefit]
    note: str


class HospitalOut(BaseModel):
    code: str
    name: str
    level: str
    is_example: bool
