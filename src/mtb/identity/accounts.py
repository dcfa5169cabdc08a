"""An administrator's rules over the staff accounts of their region (the admin pages call these): they see
and change only their region's accounts, and cannot deactivate their own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.errors import Conflict, NotFound
from mtb.identity.models import StaffUser


async def region_staff(session: AsyncSession, region_code: str) -> Sequence[StaffUser]:
    return (await session.execute(select(StaffUser).where(StaffUser.region_code == region_code)
                                  .order_by(StaffUser.created_at, StaffUser.username))).scalars().all()


async def region_member(session: AsyncSession, region_code: str, *, member_id: uuid.UUID | None = None,
                        username: str | None = None) -> StaffUser | None:
    """One account of the region, by id or username; None when it is not (or not in this region)."""
    found = select(StaffUser).where(StaffUser.region_code == region_code)
    if member_id is not None:
        found = found.where(StaffUser.id == member_id)
    if username is not None:
        found = found.where(StaffUser.username == username)
    return (await session.execute(found)).scalar_one_or_none()


async def member_of(session: AsyncSession, admin: StaffUser, member_id: uuid.UUID) -> StaffUser:
    """An account of the administrator's region: 404 for any other (it does not exist for them)."""
    member = await region_member(session, admin.region_code, member_id=member_id)
    if member is None:
        raise NotFound("staff_not_found", "该工作人员账号不存在")
    return member


async def deactivate(session: AsyncSession, admin: StaffUser, member_id: uuid.UUID) -> StaffUser:
    """End an account of the region (its tokens stop working at their next use: identity/asker.py)."""
    member = await member_of(session, admin, member_id)
    if member.id == admin.id:
        raise Conflict("cannot_deactivate_self", "不能停用自己的账号")
    member.active = False
    await session.flush()
    return member
