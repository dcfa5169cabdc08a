"""Login requests and what they answer."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from mtb.identity import idnumber
from mtb.identity.models import InsuranceType, InsuredPerson, PersonStatus, StaffRole, StaffUser


class RealNameLogin(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=1, max_length=32)
    card_number: str = Field(min_length=1, max_length=64)


class StaffLogin(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class PersonOut(BaseModel):
    id: uuid.UUID
    name: str
    id_number_masked: str
    insurance_type: InsuranceType
    region_code: str
    region_name: str | None
    status: PersonStatus

    @classmethod
    def of(cls, person: InsuredPerson) -> PersonOut:
        return cls(id=person.id, name=person.name, id_number_masked=person.id_number_masked,
                   insurance_type=person.insurance_type, region_code=person.region_code,
                   region_name=idnumber.region_name(person.region_code), status=person.status)


class StaffOut(BaseModel):
    id: uuid.UUID
    username: str
    role: StaffRole
    region_code: str

    @classmethod
    def of(cls, staff: StaffUser) -> StaffOut:
        return cls(id=staff.id, username=staff.username, role=staff.role, region_code=staff.region_code)


class PersonToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    person: PersonOut


class StaffToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    staff: StaffOut


class Me(BaseModel):
    kind: Literal["person", "staff"]
    person: PersonOut | None = None
    staff: StaffOut | None = None
