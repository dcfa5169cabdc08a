"""Importing the insured registry from CSV: all rows valid or nothing imported.

Header: `name,id_number,card_number,insurance_type,region_code` (an optional `status` column takes
`active|suspended`). Re-importing a person (same ID number) updates them; it never duplicates.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.identity import idnumber
from mtb.identity.models import InsuranceType, InsuredPerson, PersonStatus
from mtb.logs import mask_ids
from mtb.timeutil import utcnow

HEADER = ("name", "id_number", "card_number", "insurance_type", "region_code")
OPTIONAL_COLUMNS = ("status",)
_CARD = re.compile(r"^[A-Za-z0-9]{4,32}$")
_CHUNK = 500


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"第 {self.line} 行：{self.reason}"


class RegistryFileInvalid(Exception):
    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class InsuredRecord:
    line: int
    name: str
    id_number: str
    card_number: str
    insurance_type: InsuranceType
    region_code: str
    status: PersonStatus


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


def parse_registry_csv(raw: bytes) -> list[InsuredRecord]:
    """Check every row; raise `RegistryFileInvalid` naming each bad row by line number and reason."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RegistryFileInvalid([RowProblem(1, "文件不是 UTF-8 编码")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise RegistryFileInvalid([RowProblem(1, "文件为空")])
    columns = [h.strip() for h in header]
    allowed = set(HEADER) | set(OPTIONAL_COLUMNS)
    if columns[:len(HEADER)] != list(HEADER) or not set(columns) <= allowed or len(set(columns)) != len(columns):
        raise RegistryFileInvalid([RowProblem(1, f"表头应为 {','.join(HEADER)}（可加 status 列），实为 {','.join(columns)}")])

    records: list[InsuredRecord] = []
    problems: list[RowProblem] = []
    first_line_of: dict[str, int] = {}
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(line, f"CSV 格式错误：{exc}"))
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            problems.append(RowProblem(line, f"应有 {len(columns)} 列，实有 {len(row)} 列"))
            continue
        values = {col: cell.strip() for col, cell in zip(columns, row, strict=True)}
        reasons, record = _check_row(line, values)
        if record is not None:
            earlier = first_line_of.setdefault(record.id_number, line)
            if earlier != line:
                reasons.append(f"身份证号与第 {earlier} 行重复")
        if reasons:
            problems.extend(RowProblem(line, r) for r in reasons)
        elif record is not None:
            records.append(record)
    if problems:
        raise RegistryFileInvalid(problems)
    return records


def _check_row(line: int, values: dict[str, str]) -> tuple[list[str], InsuredRecord | None]:
    reasons: list[str] = []
    name = values["name"]
    if not name or len(name) > 64:
        reasons.append("姓名为空或超过 64 个字符")
    number = idnumber.normalize(values["id_number"])
    if not idnumber.is_valid(number):
        reasons.append(f"身份证号 {idnumber.mask(number)} 无效（GB 11643 校验不通过）")
    card = values["card_number"]
    if not _CARD.match(card):
        reasons.append("医保卡号应为 4-32 位字母或数字")
    insurance_type = values["insurance_type"]
    if insurance_type not in InsuranceType.__members__:
        reasons.append(f"参保类型应为 employee（职工）或 resident（居民），实为 {mask_ids(insurance_type)!r}")
    region = values["region_code"]
    if idnumber.region_name(region) is None:
        reasons.append(f"参保地区代码 {mask_ids(region)!r} 不是已知的行政区划代码")
    status = values.get("status") or PersonStatus.active.value
    if status not in PersonStatus.__members__:
        reasons.append(f"状态应为 active 或 suspended，实为 {mask_ids(status)!r}")
    if reasons:
        return reasons, None
    return reasons, InsuredRecord(line, name, number, card, InsuranceType(insurance_type), region,
                                  PersonStatus(status))


async def import_insured(session: AsyncSession, records: list[InsuredRecord]) -> ImportResult:
    """Create or update each person, matched on the keyed hash of their ID number."""
    created = updated = unchanged = 0
    now = utcnow()
    for start in range(0, len(records), _CHUNK):
        chunk = records[start:start + _CHUNK]
        hashes = {idnumber.lookup_hash(r.id_number): r for r in chunk}
        existing = {p.id_number_hash: p for p in (await session.execute(
            select(InsuredPerson).where(InsuredPerson.id_number_hash.in_(hashes)))).scalars()}
        for digest, rec in hashes.items():
            person = existing.get(digest)
            fields = {"name": rec.name, "card_number": rec.card_number,
                      "insurance_type": rec.insurance_type.value, "region_code": rec.region_code,
                      "status": rec.status.value}
            if person is None:
                session.add(InsuredPerson(
                    id_number_hash=digest, id_number_enc=idnumber.encrypt(rec.id_number),
                    id_number_masked=idnumber.mask(rec.id_number), id_number_last4=idnumber.last4(rec.id_number),
                    birth_date=idnumber.birth_date(rec.id_number), created_at=now, updated_at=now,
                    **fields))
                created += 1
            elif any(getattr(person, k) != v for k, v in fields.items()):
                for key, value in fields.items():
                    setattr(person, key, value)
                person.updated_at = now
                updated += 1
            else:
                unchanged += 1
        await session.flush()
    return ImportResult(created, updated, unchanged)
