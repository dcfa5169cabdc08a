"""The reason-code list (data/review/reason-codes.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field


class ReasonCode(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[a-z_]{1,64}$")
    name: str = Field(min_length=1, max_length=100)
    needs_detail: bool = False


class ReasonList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    reasons: list[ReasonCode] = Field(min_length=1)

    def get(self, code: str) -> ReasonCode | None:
        return next((r for r in self.reasons if r.code == code), None)


def load_reasons(path: Path) -> ReasonList:
    return ReasonList.model_validate(yaml.safe_load(path.read_text("utf-8")))
