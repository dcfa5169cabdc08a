"""The materials' periodic job: remove stored files nothing refers to any more (mtb/jobs.py runs it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from mtb.materials.doctor import remove_unreferenced
from mtb.materials.storage import Storage


async def collect_garbage(session: AsyncSession, storage: Storage, now: datetime, grace_minutes: int) -> int:
    """Remove stored files that no material refers to and nobody touched for the grace period."""
    removal = await remove_unreferenced(session, storage, now=now, grace_minutes=grace_minutes)
    return removal.files + removal.temporaries
