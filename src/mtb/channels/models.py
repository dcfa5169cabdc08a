"""A registered channel, its public keys, and the assertion ids it has used (never accepted twice)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from mtb.db.engine import Base, UTCDateTime


class Channel(Base):
    """A client MTB trusts to vouch for its users: its `code` is the `iss` of its assertions, its `keys` a
    JWKS document of public keys only (a PEM given at registration is stored as its JWK)."""

    __tablename__ = "channels"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    # The region whose administrator registered it: it vouches only for people insured there.
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    # The catalog's channel code (bj_app, jingtong, ...) its applications are made under, if any: its
    # webhooks then hear only of those applications and the filings they granted.
    catalog_channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    keys: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChannelAssertion(Base):
    """An assertion id (`jti`) a channel has used. The primary key refuses the second use, also when two
    arrive at once; rows past `expires_at` (the assertion's own expiry) are purged by the jobs, since an
    expired assertion is refused anyway."""

    __tablename__ = "channel_assertions"

    channel_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
