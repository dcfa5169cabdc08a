"""Demo data for `make run`: a few insured people with clearly fake ID numbers, one staff account per
role and region. Loading it twice changes nothing. Refused with MTB_ENV=production
(identity/demo_password.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.identity import idnumber
from mtb.identity.demo_password import DEMO_PASSWORD, refuse_demo_data
from mtb.identity.models import InsuranceType, PersonStatus, StaffRole, StaffUser
from mtb.identity.registry import InsuredRecord, import_insured
from mtb.identity.service import create_staff

REGIONS = {"110000": "bj", "429021": "snj"}


@dataclass(frozen=True)
class DemoPerson:
    name: str
    id_number: str
    card_number: str
    insurance_type: InsuranceType
    region_code: str
    note: str


def _person(name: str, first17: str, card: str, kind: InsuranceType, region: str, note: str) -> DemoPerson:
    return DemoPerson(name, idnumber.with_check_digit(first17), card, kind, region, note)


# Birth dates of 1 January and sequence numbers 90x mark these numbers as made up.
DEMO_PEOPLE = [
    _person("张三", "11010519800101901", "BJ0000000001", InsuranceType.employee, "110000", "北京，职工医保"),
    _person("李四", "11010819750101902", "BJ0000000002", InsuranceType.resident, "110000", "北京，居民医保"),
    _person("王五", "11010219900101903", "BJ0000000003", InsuranceType.employee, "110000", "北京，可为他人代办"),
    _person("赵六", "42902119600101904", "HB0000000004", InsuranceType.resident, "429021", "神农架林区，居民医保"),
    _person("钱七", "42902119850101905", "HB0000000005", InsuranceType.employee, "429021", "神农架林区，赵六的家属"),
    _person("孙八", "42010219900101906", "HB0000000006", InsuranceType.employee, "420102",
            "武汉市江岸区参保，异地就医需先办理异地备案"),
]


async def load_demo(session: AsyncSession) -> list[str]:
    """Load the demo people and staff; return the lines that tell how to log in. Never in production."""
    refuse_demo_data()
    await import_insured(session, [
        InsuredRecord(line=i + 2, name=p.name, id_number=p.id_number, card_number=p.card_number,
                      insurance_type=p.insurance_type, region_code=p.region_code, status=PersonStatus.active)
        for i, p in enumerate(DEMO_PEOPLE)])
    lines = ["参保人（实名登录：姓名 + 身份证号 + 医保卡号）："]
    lines += [f"  {p.name}  {p.id_number}  {p.card_number}  {p.note}" for p in DEMO_PEOPLE]
    lines.append(f"工作人员（用户名 / 密码 {DEMO_PASSWORD}）：")
    for region, prefix in REGIONS.items():
        for role in StaffRole:
            username = f"{prefix}_{role.value}"
            exists = (await session.execute(
                select(StaffUser.id).where(StaffUser.username == username))).scalar_one_or_none()
            if exists is None:
                await create_staff(session, username=username, password=DEMO_PASSWORD, role=role,
                                   region_code=region)
            lines.append(f"  {username}  ({role.value}, {region})")
    return lines
