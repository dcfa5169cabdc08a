"""The pre-review as staff see it in an application (`prereview` of GET /api/v1/applications/{id})."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from mtb.prereview.models import PrereviewStatus

OUTCOME_LABELS = {"match": "一致", "mismatch": "不一致", "unreadable": "无法识别"}
STATUS_LABELS = {"pending": "等待识别", "running": "正在识别", "done": "已完成", "failed": "识别失败",
                 "unavailable": "未启用（未安装文字识别组件）"}


class FindingOut(BaseModel):
    field: str
    label: str
    outcome: Literal["match", "mismatch", "unreadable"]
    outcome_label: str
    found: str | None
    expected: str | None
    note: str | None


class MaterialPrereviewOut(BaseModel):
    material_id: uuid.UUID
    kind: str
    status: PrereviewStatus
    status_label: str
    readable: bool | None
    findings: list[FindingOut]
    engine: str | None
    finished_at: datetime | None


class PrereviewOut(BaseModel):
    available: bool
    all_match: bool
    materials: list[MaterialPrereviewOut]
