"""Real-name verification and staff accounts."""

from __future__ import annotations

import hmac
import unicodedata
from typing import Protocol

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.errors import Conflict, Unprocessable
from mtb.identity import idnumber
from mtb.identity.demo_password import refuse_demo_password
from mtb.identity.models import InsuredPerson, StaffRole, StaffUser
from mtb.identity.passwords import DUMMY_HASH, hash_password, password_matches
from mtb.timeutil import utcnow

MIN_PASSWORD_LENGTH = 8


class RealNameVerifier(Protocol):
    """Confirms that name, ID number and card number belong to one insured person.

    The registry stands in for the national medical insurance e-voucher (医保电子凭证); a verifier that
    calls the real voucher service implements this same method.
    """

    async def verify(self, session: AsyncSession, *, name: str, id_number: str,
                     card_number: str) -> InsuredPerson | None: ...


class RegistryVerifier:
    async def verify(self, session: AsyncSession, *, name: str, id_number: str,
                     card_number: str) -> InsuredPerson | None:
        return await find_person(session, name=name, id_number=id_number, card_number=card_number)


async def find_person(session: AsyncSession, *, name: str, id_number: str,
                      card_number: str) -> InsuredPerson | None:
    """The registry entry matching all three, or None (whichever one is wrong)."""
    number = idnumber.normalize(id_number)
    if not idnumber.is_valid(number):
        return None
    person = (await session.execute(
        select(InsuredPerson).where(InsuredPerson.id_number_hash == idnumber.lookup_hash(number))
    )).scalar_one_or_none()
    if person is None:
        return None
    name_ok = hmac.compare_digest(person.name.encode(), name.strip().encode())
    card_ok = hmac.compare_digest(person.card_number.upper().encode(), card_number.strip().upper().encode())
    return person if name_ok and card_ok else None


async def authenticate_staff(session: AsyncSession, *, username: str, password: str) -> StaffUser | None:
    staff = (await session.execute(
        select(StaffUser).where(StaffUser.username == username.strip()))).scalar_one_or_none()
    stored = staff.password_hash if staff is not None else DUMMY_HASH
    matches = await anyio.to_thread.run_sync(password_matches, password, stored)
    if staff is None or not matches or not staff.active:
        return None
    return staff


async def create_staff(session: AsyncSession, *, username: str, password: str, role: StaffRole,
                       region_code: str, password_hash: str | None = None) -> StaffUser:
    """Create a staff account bound to one region. `password_hash` lets fixtures skip re-hashing."""
    username = username.strip()
    if not username or len(username) > 64:
        raise Unprocessable("invalid_username", "用户名不能为空，且不超过 64 个字符")
    # Control and invisible characters (NUL, a line break, a zero-width space, a direction mark): a name that
    # looks like another account's in lists, claims and the audit trail (and PostgreSQL refuses a NUL).
    if any(unicodedata.category(ch)[0] == "C" for ch in username):
        raise Unprocessable("invalid_username", "用户名不能包含控制字符或不可见字符")
    if password_hash is None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise Unprocessable("weak_password", f"密码至少 {MIN_PASSWORD_LENGTH} 个字符")
        refuse_demo_password(password)
        password_hash = hash_password(password)
    if idnumber.region_name(region_code) is None:
        raise Unprocessable("unknown_region", f"未知的地区代码 {region_code}")
    exists = (await session.execute(
        select(StaffUser.id).where(StaffUser.username == username))).scalar_one_or_none()
    if exists is not None:
        raise Conflict("staff_exists", f"用户名 {username} 已存在")
    staff = StaffUser(username=username, password_hash=password_hash, role=role.value,
                      region_code=region_code, active=True, created_at=utcnow())
    session.add(staff)
    await session.flush()
    return staff
