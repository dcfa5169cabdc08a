"""The insured registry import: every bad row reported, all or nothing, re-import updates."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mtb.identity import idnumber
from mtb.identity.models import InsuredPerson
from mtb.identity.registry import RegistryFileInvalid, import_insured, parse_registry_csv
from tests.factories import Seed

GOOD_ZHANG = idnumber.with_check_digit("11010519800101901")
GOOD_ZHAO = idnumber.with_check_digit("42902119600101904")
HEADER = "name,id_number,card_number,insurance_type,region_code\n"


def problems_of(raw: str | bytes) -> list[tuple[int, str]]:
    with pytest.raises(RegistryFileInvalid) as info:
        parse_registry_csv(raw.encode() if isinstance(raw, str) else raw)
    return [(p.line, p.reason) for p in info.value.problems]


def test_good_file_with_bom_and_blank_lines() -> None:
    raw = ("\ufeff" + HEADER + f"张三,{GOOD_ZHANG},BJ0000000001,employee,110000\n\n"
           f"赵六,{GOOD_ZHAO.lower()},HB0000000004,resident,429021\n")
    records = parse_registry_csv(raw.encode())
    assert [(r.line, r.name, r.region_code) for r in records] == [(2, "张三", "110000"), (4, "赵六", "429021")]
    assert records[1].id_number == GOOD_ZHAO.upper()


def test_every_bad_row_is_reported_by_line_and_reason() -> None:
    bad_check = GOOD_ZHANG[:-1] + ("0" if GOOD_ZHANG[-1] != "0" else "1")
    raw = (HEADER
           + f"张三,{GOOD_ZHANG},BJ0000000001,employee,110000\n"
           + f"坏号,{bad_check},BJ0000000002,employee,110000\n"
           + f"类型,{idnumber.with_check_digit('11010519800101907')},BJ0000000003,farmer,110000\n"
           + f"地区,{idnumber.with_check_digit('11010519800101908')},BJ0000000004,resident,999999\n"
           + f"重复,{GOOD_ZHANG},BJ0000000005,employee,110000\n"
           + "缺列,1\n"
           + f",{idnumber.with_check_digit('11010519800101909')},!!,employee,110000\n")
    problems = problems_of(raw)
    lines = [line for line, _ in problems]
    assert lines == [3, 4, 5, 6, 7, 8, 8]
    reasons = dict(problems[:5])
    assert "GB 11643" in reasons[3] and "**************" in reasons[3]
    assert bad_check not in reasons[3]  # the ID number is masked even in error reports
    assert "farmer" in reasons[4]
    assert "999999" in reasons[5]
    assert reasons[6] == "身份证号与第 2 行重复"
    assert reasons[7] == "应有 5 列，实有 2 列"


@pytest.mark.parametrize("raw, reason", [
    (b"", "文件为空"),
    ("姓名,身份证号\n".encode(), "表头应为"),
    ("name,id_number\n".encode("utf-16"), "文件不是 UTF-8 编码"),
])
def test_bad_header_or_encoding(raw: bytes, reason: str) -> None:
    ((line, text),) = problems_of(raw)
    assert line == 1 and text.startswith(reason)


async def count(seed: Seed) -> int:
    async with seed.sessionmaker() as s:
        return (await s.execute(select(func.count()).select_from(InsuredPerson))).scalar_one()


async def test_reimport_updates_and_never_duplicates(seed: Seed) -> None:
    first = parse_registry_csv((HEADER + f"张三,{GOOD_ZHANG},BJ0000000001,employee,110000\n").encode())
    async with seed.sessionmaker() as s, s.begin():
        assert (await import_insured(s, first)).created == 1
    again = parse_registry_csv((HEADER + f"张三,{GOOD_ZHANG},BJ0000000009,resident,110000\n"
                                + f"赵六,{GOOD_ZHAO},HB0000000004,resident,429021\n").encode())
    async with seed.sessionmaker() as s, s.begin():
        result = await import_insured(s, again)
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert await count(seed) == 2
    async with seed.sessionmaker() as s:
        zhang = (await s.execute(select(InsuredPerson).where(
            InsuredPerson.id_number_hash == idnumber.lookup_hash(GOOD_ZHANG)))).scalar_one()
    assert (zhang.card_number, zhang.insurance_type) == ("BJ0000000009", "resident")
    assert zhang.id_number_masked == "**************9010"
    assert GOOD_ZHANG not in zhang.id_number_enc and idnumber.decrypt(zhang.id_number_enc) == GOOD_ZHANG
    async with seed.sessionmaker() as s, s.begin():
        assert (await import_insured(s, again)).unchanged == 2
