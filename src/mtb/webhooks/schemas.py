"""What the webhook administration routes take and answer."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from mtb.webhooks.events import EventType
from mtb.webhooks.models import MessageStatus, WebhookEndpoint
from mtb.webhooks.service import LoggedMessage


class EndpointIn(BaseModel):
    url: str = Field(min_length=1, max_length=2048, description="接收推送的 http(s) 地址")
    events: list[EventType] = Field(min_length=1, max_length=len(EventType))


class EndpointOut(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    url: str
    events: list[EventType]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, e: WebhookEndpoint) -> EndpointOut:
        return cls(id=e.id, channel_id=e.channel_id, url=e.url, events=[EventType(v) for v in e.events],
                   active=e.active, created_at=e.created_at)


class EndpointCreated(EndpointOut):
    secret: str = Field(description="Standard Webhooks 签名密钥（whsec_…），只在登记时显示这一次")


class AttemptOut(BaseModel):
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None


class MessageOut(BaseModel):
    id: str = Field(description="webhook-id：每次投递相同，接收方据此去重")
    endpoint_id: uuid.UUID
    channel_code: str
    event_type: EventType
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    redelivered_at: datetime | None
    log: list[AttemptOut]

    @classmethod
    def of(cls, item: LoggedMessage) -> MessageOut:
        m = item.message
        return cls(id=m.id, endpoint_id=m.endpoint_id, channel_code=item.channel.code,
                   event_type=EventType(m.event_type), status=MessageStatus(m.status), attempts=m.attempts,
                   next_attempt_at=m.next_attempt_at, created_at=m.created_at, delivered_at=m.delivered_at,
                   redelivered_at=m.redelivered_at,
                   log=[AttemptOut(attempt=a.attempt, attempted_at=a.attempted_at, status_code=a.status_code,
                                   error=a.error) for a in item.attempts])
