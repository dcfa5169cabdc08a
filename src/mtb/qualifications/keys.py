"""Hospital API keys: made by `mtb hospital-key create CODE`, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.catalog.service import active_catalogs
from mtb.db.engine import DBSession
from mtb.errors import NotFound, Unauthorized, Unprocessable
from mtb.qualifications.models import HospitalKey
from mtb.timeutil import utcnow

PREFIX = "mtbh_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_hospital_key(session: AsyncSession, hospital_code: str,
                              region_code: str | None = None) -> tuple[HospitalKey, str]:
    """A new key for a hospital designated in some region's catalog in force (in `region_code`'s, when
    given: an administrator's page); returns the row and the key."""
    regions = [a.document.region.code for a in await active_catalogs(session) if a.document.hospital(hospital_code)
               and region_code in (None, a.document.region.code)]
    if not regions and region_code is not None:
        raise Unprocessable("hospital_not_designated", "请选择本地区目录中的定点医疗机构")
    if len(regions) != 1:
        raise Unprocessable("hospital_not_designated" if not regions else "hospital_ambiguous",
                            f"医院 {hospital_code} 不在任何地区的定点医疗机构目录中" if not regions
                            else f"医院代码 {hospital_code} 在多个地区出现：{', '.join(regions)}")
    key = PREFIX + secrets.token_urlsafe(32)
    row = HospitalKey(hospital_code=hospital_code, region_code=regions[0], key_hash=hash_key(key),
                      prefix=key[:12], created_at=utcnow())
    session.add(row)
    await session.flush()
    return row, key


async def region_keys(session: AsyncSession, region_code: str) -> Sequence[HospitalKey]:
    """The region's keys, newest first (an administrator sees only their region's)."""
    return (await session.execute(select(HospitalKey).where(HospitalKey.region_code == region_code)
                                  .order_by(HospitalKey.created_at.desc()))).scalars().all()


async def region_key(session: AsyncSession, region_code: str, key_id: uuid.UUID) -> HospitalKey:
    """A key of the region: 404 for any other (it does not exist for an administrator elsewhere)."""
    row = (await session.execute(select(HospitalKey).where(
        HospitalKey.id == key_id, HospitalKey.region_code == region_code))).scalar_one_or_none()
    if row is None:
        raise NotFound("hospital_key_not_found", "该密钥不存在")
    return row


async def revoke_key(session: AsyncSession, row: HospitalKey) -> None:
    """Stop a key now (once: revoking a revoked key keeps its first time)."""
    await session.execute(update(HospitalKey).where(HospitalKey.id == row.id, HospitalKey.revoked_at.is_(None))
                          .values(revoked_at=utcnow()).execution_options(synchronize_session=False))


async def current_hospital(session: DBSession,
                           x_api_key: Annotated[str | None, Header(alias="X-Api-Key", max_length=200)] = None
                           ) -> HospitalKey:
    if not x_api_key:
        raise Unauthorized("api_key_required", "需要定点医疗机构的 X-Api-Key")
    row = (await session.execute(select(HospitalKey).where(
        HospitalKey.key_hash == hash_key(x_api_key), HospitalKey.revoked_at.is_(None)))).scalar_one_or_none()
    if row is None:
        raise Unauthorized("api_key_invalid", "X-Api-Key 无效或已停用")
    return row


CurrentHospital = Annotated[HospitalKey, Depends(current_hospital)]
