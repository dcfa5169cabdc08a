"""The identity's periodic job: forget revocations of tokens that have expired anyway (mtb/jobs.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.identity.models import RevokedToken


async def forget_expired_revocations(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
