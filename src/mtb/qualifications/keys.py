"""Hospital API keys: made by `mtb hospital-key create CODE`, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.catalog.service import active_catalogs
from mtb.db.engine import DBSession
from mtb.errors import Unauthorized, Unprocessable
from mtb.qualifications.models import HospitalKey
from mtb.timeutil import utcnow

PREFIX = "mtbh_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_hospital_key(session: AsyncSession, hospital_code: str) -> tuple[HospitalKey, str]:
    """A new key for a hospital designated in some region's catalog in force; returns the row and the key."""
    regions = [a.document.region.code for a in await active_catalogs(session) if a.document.hospital(hospital_code)]
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
