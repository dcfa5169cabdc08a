"""A channel's webhook endpoints, the outbox of messages for them, and the log of delivery attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from mtb.db.engine import Base, UTCDateTime


class MessageStatus(StrEnum):
    pending = "pending"  # waiting for its next attempt (the first included)
    delivered = "delivered"  # an attempt was answered 2xx
    failed = "failed"  # every attempt failed; an administrator may deliver it again


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    # The Standard Webhooks secret (whsec_<base64>): MTB signs with it, so it is kept, shown once.
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


_PENDING = "status = 'pending'"


class WebhookMessage(Base):
    """One event for one endpoint: written in the transaction of the change it reports, so it exists if and
    only if the change does. `id` is the `webhook-id` of every attempt (a receiver's duplicate key), `body`
    the exact bytes signed and sent."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        # The worker's pick: due pending messages, oldest due first; delivered ones stay out of the index.
        Index("ix_webhook_messages_due", "next_attempt_at", sqlite_where=text(_PENDING),
              postgresql_where=text(_PENDING)),
        Index("ix_webhook_messages_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last administrator who asked to deliver it again (the admin page), and when.
    redelivered_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    redelivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookAttempt(Base):
    """The delivery log: one row per attempt, with the answer's status code or the failure."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
