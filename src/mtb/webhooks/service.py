"""Registering a channel's webhook endpoints, reading the delivery log, delivering a message again."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.channels.models import Channel
from mtb.errors import NotFound, Unprocessable
from mtb.settings import get_settings
from mtb.timeutil import utcnow
from mtb.wake import webhooks as webhooks_wake
from mtb.webhooks.destination import parse_url, vet
from mtb.webhooks.events import EventType
from mtb.webhooks.models import MessageStatus, WebhookAttempt, WebhookEndpoint, WebhookMessage

MAX_ENDPOINTS_PER_CHANNEL = 5


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def check_url(url: str) -> str:
    """The URL to keep, once it is well formed, https in production, and leads only to public addresses
    (unless MTB_WEBHOOK_ALLOW_PRIVATE): see destination.py. Delivery checks the addresses again."""
    url = url.strip()
    if len(url) > 2048:
        raise Unprocessable("invalid_webhook_url", "接收地址应为 http(s):// 开头的完整网址，且不含用户名密码")
    settings = get_settings()
    if settings.env == "production" and parse_url(url).scheme != "https":
        raise Unprocessable("webhook_url_insecure", "生产环境的接收地址须使用 https")
    await vet(url, allow_private=settings.webhook_allow_private)
    return url


def check_events(events: list[str]) -> list[str]:
    known = {e.value for e in EventType}
    unknown = sorted(set(events) - known)
    if unknown or not events:
        raise Unprocessable("unknown_webhook_event", f"未知的事件：{', '.join(unknown)}" if unknown else "至少订阅一种事件",
                            extra={"known": sorted(known)})
    return sorted(set(events))


async def create_endpoint(session: AsyncSession, channel: Channel, *, url: str,
                          events: list[str]) -> WebhookEndpoint:
    url = await check_url(url)  # may wait for DNS (a few seconds at most), before anything is written
    events = check_events(events)
    count = len((await session.execute(
        select(WebhookEndpoint.id).where(WebhookEndpoint.channel_id == channel.id))).all())
    if count >= MAX_ENDPOINTS_PER_CHANNEL:
        raise Unprocessable("too_many_endpoints", f"每个渠道最多登记 {MAX_ENDPOINTS_PER_CHANNEL} 个接收地址")
    endpoint = WebhookEndpoint(channel_id=channel.id, url=url, secret=new_secret(), events=events, active=True,
                               created_at=utcnow())
    session.add(endpoint)
    await session.flush()
    return endpoint


async def endpoints_of(session: AsyncSession, channel: Channel) -> list[WebhookEndpoint]:
    return list((await session.execute(select(WebhookEndpoint).where(WebhookEndpoint.channel_id == channel.id)
                                       .order_by(WebhookEndpoint.created_at))).scalars())


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID, region_code: str | None) -> WebhookEndpoint:
    query = select(WebhookEndpoint).join(Channel, Channel.id == WebhookEndpoint.channel_id).where(
        WebhookEndpoint.id == endpoint_id)
    if region_code is not None:
        query = query.where(Channel.region_code == region_code)
    endpoint = (await session.execute(query)).scalar_one_or_none()
    if endpoint is None:
        raise NotFound("webhook_endpoint_not_found", "接收地址不存在")
    return endpoint


@dataclass(frozen=True)
class LoggedMessage:
    message: WebhookMessage
    endpoint: WebhookEndpoint
    channel: Channel
    attempts: list[WebhookAttempt]


async def delivery_log(session: AsyncSession, region_code: str | None, *, endpoint_id: uuid.UUID | None = None,
                       status: MessageStatus | None = None, message_id: str | None = None, limit: int = 50,
                       offset: int = 0) -> list[LoggedMessage]:
    """Messages, newest first, each with its attempts (within `region_code` when an administrator asks)."""
    query = (select(WebhookMessage, WebhookEndpoint, Channel)
             .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
             .join(Channel, Channel.id == WebhookEndpoint.channel_id))
    if region_code is not None:
        query = query.where(Channel.region_code == region_code)
    if endpoint_id is not None:
        query = query.where(WebhookMessage.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookMessage.status == status.value)
    if message_id is not None:
        query = query.where(WebhookMessage.id == message_id)
    rows = (await session.execute(query.order_by(WebhookMessage.created_at.desc(), WebhookMessage.id)
                                  .limit(limit).offset(offset))).all()
    ids = [m.id for m, _, _ in rows]
    attempts: dict[str, list[WebhookAttempt]] = {i: [] for i in ids}
    if ids:
        for a in (await session.execute(select(WebhookAttempt).where(WebhookAttempt.message_id.in_(ids))
                                        .order_by(WebhookAttempt.id))).scalars():
            attempts[a.message_id].append(a)
    return [LoggedMessage(m, e, c, attempts[m.id]) for m, e, c in rows]


async def get_message(session: AsyncSession, message_id: str, region_code: str | None) -> WebhookMessage:
    query = (select(WebhookMessage).join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
             .join(Channel, Channel.id == WebhookEndpoint.channel_id).where(WebhookMessage.id == message_id))
    if region_code is not None:
        query = query.where(Channel.region_code == region_code)
    message = (await session.execute(query)).scalar_one_or_none()
    if message is None:
        raise NotFound("webhook_message_not_found", "推送消息不存在")
    return message


async def redeliver(session: AsyncSession, message: WebhookMessage, *, staff_id: uuid.UUID) -> None:
    """Deliver the message again from now, with a fresh run of attempts: same webhook-id, same body."""
    now = utcnow()
    message.status = MessageStatus.pending.value
    message.attempts = 0
    message.next_attempt_at = now
    message.redelivered_by_id = staff_id
    message.redelivered_at = now
    await session.flush()
    webhooks_wake.kick_after_commit(session)
