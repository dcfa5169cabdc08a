"""Registering channels: by an administrator (admin API) or an operator (`mtb channel ...`)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.catalog.service import active_catalog
from mtb.channels.keys import parse_keys
from mtb.channels.models import Channel
from mtb.errors import Conflict, NotFound, Unprocessable
from mtb.identity import idnumber
from mtb.timeutil import utcnow

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{1,127}$")


async def _check_catalog_channel(session: AsyncSession, region_code: str, catalog_channel: str | None) -> None:
    if catalog_channel is None:
        return
    doc = (await active_catalog(session, region_code)).document
    if doc.channel(catalog_channel) is None:
        raise Unprocessable("unknown_channel", f"本地区目录中没有渠道 {catalog_channel}",
                            extra={"known": [c.code for c in doc.channels]})


async def create_channel(session: AsyncSession, *, code: str, name: str, region_code: str, keys: str,
                         kid: str | None = None, catalog_channel: str | None = None) -> Channel:
    code, name = code.strip(), name.strip()
    if not _CODE.match(code):
        raise Unprocessable("invalid_channel_code",
                            "渠道代码为 2–128 个字母、数字或 . _ : / -（即断言中的 iss）")
    if not name or len(name) > 128:
        raise Unprocessable("invalid_channel_name", "渠道名称不能为空，且不超过 128 个字符")
    if idnumber.region_name(region_code) is None:
        raise Unprocessable("unknown_region", f"未知的地区代码 {region_code}")
    await _check_catalog_channel(session, region_code, catalog_channel)
    document = parse_keys(keys, kid=kid)
    if (await session.execute(select(Channel.id).where(Channel.code == code))).first() is not None:
        raise Conflict("channel_exists", f"渠道 {code} 已登记")
    now = utcnow()
    channel = Channel(code=code, name=name, region_code=region_code, catalog_channel=catalog_channel,
                      keys=document, active=True, created_at=now, updated_at=now)
    session.add(channel)
    await session.flush()
    return channel


async def get_channel(session: AsyncSession, channel_id: uuid.UUID | str, region_code: str | None) -> Channel:
    """A channel by id or code; within `region_code` when an administrator asks (another region's is a 404)."""
    column = Channel.id if isinstance(channel_id, uuid.UUID) else Channel.code
    query = select(Channel).where(column == channel_id)
    if region_code is not None:
        query = query.where(Channel.region_code == region_code)
    channel = (await session.execute(query)).scalar_one_or_none()
    if channel is None:
        raise NotFound("channel_not_found", "渠道不存在")
    return channel


async def list_channels(session: AsyncSession, region_code: str | None) -> list[Channel]:
    query = select(Channel).order_by(Channel.created_at, Channel.code)
    if region_code is not None:
        query = query.where(Channel.region_code == region_code)
    return list((await session.execute(query)).scalars())


async def replace_keys(session: AsyncSession, channel: Channel, keys: str, kid: str | None = None) -> None:
    """A new key set (rotation: register old and new keys together, then the new one alone)."""
    channel.keys = parse_keys(keys, kid=kid)
    channel.updated_at = utcnow()
    await session.flush()


async def set_active(session: AsyncSession, channel: Channel, active: bool) -> None:
    """A disabled channel's assertions are refused (`channel_unknown`) and its webhooks pause."""
    channel.active = active
    channel.updated_at = utcnow()
    await session.flush()
