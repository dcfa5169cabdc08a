"""Small factories for test data, each committed in its own transaction, and the named actors:
applicant `zhang` (Beijing), another applicant `li` (Beijing), agent `wang` (Beijing), `zhao` and
`qian` (Shennongjia), `sun` (insured in Wuhan), staff of each role in each region."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.catalog.loader import ParsedCatalog, read_catalog_files
from mtb.catalog.service import load_catalogs
from mtb.identity import idnumber
from mtb.identity.models import InsuranceType, InsuredPerson, PersonStatus, StaffRole, StaffUser
from mtb.identity.passwords import hash_password
from mtb.identity.registry import InsuredRecord, import_insured
from mtb.identity.service import create_staff
from mtb.identity.tokens import Principal, issue_token

CATALOG_DIR = Path(__file__).resolve().parents[1] / "data" / "catalog"
STAFF_PASSWORD = "correct horse battery"
BEIJING, SHENNONGJIA = "110000", "429021"


@lru_cache
def _staff_hash() -> str:
    return hash_password(STAFF_PASSWORD)


@lru_cache
def reference_catalogs() -> tuple[ParsedCatalog, ...]:
    return tuple(read_catalog_files(sorted(CATALOG_DIR.glob("*.yaml"))))


@dataclass(frozen=True)
class Person:
    """A registry entry with the clear values a test logs in with."""

    row: InsuredPerson
    name: str
    id_number: str
    card_number: str

    def credentials(self) -> dict[str, str]:
        return {"name": self.name, "id_number": self.id_number, "card_number": self.card_number}


ACTORS: dict[str, tuple[str, str, str, InsuranceType]] = {
    "zhang": ("张三", "11010519800101901", BEIJING, InsuranceType.employee),
    "li": ("李四", "11010819750101902", BEIJING, InsuranceType.resident),
    "wang": ("王五", "11010219900101903", BEIJING, InsuranceType.employee),
    "zhao": ("赵六", "42902119600101904", SHENNONGJIA, InsuranceType.resident),
    "qian": ("钱七", "42902119850101905", SHENNONGJIA, InsuranceType.employee),
    "sun": ("孙八", "42010219900101906", "420102", InsuranceType.employee),
}


@dataclass
class Seed:
    sessionmaker: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    _counter: list[int] = field(default_factory=lambda: [0])

    async def catalogs(self, parsed: list[ParsedCatalog] | None = None) -> None:
        async with self.sessionmaker() as s, s.begin():
            await load_catalogs(s, parsed if parsed is not None else list(reference_catalogs()))

    async def person(self, actor: str | None = None, *, name: str = "测试人", region_code: str = BEIJING,
                     insurance_type: InsuranceType = InsuranceType.employee,
                     status: PersonStatus = PersonStatus.active, first17: str | None = None) -> Person:
        if actor is not None:
            name, first17, region_code, insurance_type = ACTORS[actor]
        if first17 is None:
            self._counter[0] += 1
            first17 = f"{region_code if region_code.isdigit() else '110105'}19700101{self._counter[0]:03d}"
        number = idnumber.with_check_digit(first17)
        card = f"C{number[-8:]}"
        async with self.sessionmaker() as s, s.begin():
            await import_insured(s, [InsuredRecord(1, name, number, card, insurance_type, region_code, status)])
        async with self.sessionmaker() as s:
            from sqlalchemy import select
            row = (await s.execute(select(InsuredPerson).where(
                InsuredPerson.id_number_hash == idnumber.lookup_hash(number)))).scalar_one()
        return Person(row, name, number, card)

    async def staff(self, username: str, role: StaffRole, region_code: str = BEIJING) -> StaffUser:
        async with self.sessionmaker() as s, s.begin():
            return await create_staff(s, username=username, password="", role=role, region_code=region_code,
                                      password_hash=_staff_hash())

    async def login(self, person: Person) -> dict[str, str]:
        response = await self.client.post("/api/v1/auth/real-name", json=person.credentials())
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def staff_login(self, staff: StaffUser) -> dict[str, str]:
        """A token of the staff member, as `POST /api/v1/auth/staff` issues it after checking the password.
        Issued directly: the password check (argon2, about 170 ms of CPU) is what tests/identity tests, and
        the suite would otherwise spend minutes on it."""
        token, _lifetime = issue_token(Principal(kind="staff", id=staff.id, role=staff.role,
                                                 region_code=staff.region_code))
        return {"Authorization": f"Bearer {token}"}


def body(response: httpx.Response) -> Any:
    return response.json()
