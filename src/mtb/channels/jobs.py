"""The channels' periodic job: forget used assertion ids past their assertion's expiry (mtb/jobs.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.channels.models import ChannelAssertion


async def forget_expired_assertions(session: AsyncSession, now: datetime) -> None:
    """A used assertion id past its assertion's expiry: the assertion is refused as expired anyway."""
    await session.execute(delete(ChannelAssertion).where(ChannelAssertion.expires_at < now))
