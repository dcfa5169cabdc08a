"""What the channel routes take and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from mtb.channels.models import Channel


class ChannelLogin(BaseModel):
    assertion: str = Field(min_length=1, max_length=16_384, description="渠道签发的 JWT 身份断言（见 docs/channels.md）")


class ChannelIn(BaseModel):
    code: str = Field(min_length=2, max_length=128, description="渠道代码，即其断言的 iss")
    name: str = Field(min_length=1, max_length=128)
    keys: str = Field(min_length=1, max_length=65_536, description="PEM 格式的公钥，或 JWKS 文档（JSON）")
    kid: str | None = Field(default=None, max_length=128, description="PEM 公钥的 kid（可选）")
    catalog_channel: str | None = Field(default=None, max_length=64,
                                        description="目录中的渠道代码（如 bj_app）：其 Webhook 只推送经该渠道提交的申请")


class KeysIn(BaseModel):
    keys: str = Field(min_length=1, max_length=65_536)
    kid: str | None = Field(default=None, max_length=128)


class ChannelOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    region_code: str
    catalog_channel: str | None
    active: bool
    keys: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Channel) -> ChannelOut:
        return cls(id=c.id, code=c.code, name=c.name, region_code=c.region_code, catalog_channel=c.catalog_channel,
                   active=c.active, keys=c.keys, created_at=c.created_at, updated_at=c.updated_at)
