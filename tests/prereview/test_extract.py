"""Fields from OCR lines, and the comparison with an application (no OCR engine needed)."""

from __future__ import annotations

from datetime import date

import pytest

from mtb.catalog.document import MaterialKind, cross_reference_problems
from mtb.identity import idnumber
from mtb.prereview.compare import Applicant, Context, compare
from mtb.prereview.extract import extract, id_number, rows
from mtb.prereview.ocr import OcrLine
from mtb.prereview.service import stored_fields
from tests.factories import reference_catalogs

ZHANG = idnumber.with_check_digit("11010519800101901")
LI = idnumber.with_check_digit("11010819750101902")
TITLES = {
    "resident": "住院医师",
    "attending": "主治医师",
    "associate_chief": "副主任医师",
    "chief": "主任医师",
}
KEY = "test-data-key-for-resident-id-numbers-0001"


def line(text: str, left: float, top: float, width: float = 300, height: float = 40) -> OcrLine:
    return OcrLine(text, 0.98, (left, top, left + width, top + height))


def certificate(
    name: str = "张三",
    number: str = ZHANG,
    *,
    title: str = "主任医师",
    day: str = "2025年5月6日",
    diagnosis: str = "右肺腺癌",
    advice: str = "建议行化学治疗",
) -> list[OcrLine]:
    return [
        line("北京协和医院", 400, 100),
        line("诊断证明书", 420, 180),
        line("姓名：", 100, 300, 90),
        line(name, 200, 302, 120),
        line("性别：男", 500, 298),
        line("年龄：45岁", 800, 300),
        line(f"身份证号：{number}", 100, 380, 600),
        line(f"诊断：{diagnosis}", 100, 500),
        line(f"处理意见：{advice}", 100, 560, 500),
        line("医师签名：王建国", 100, 1300),
        line(f"职称：{title}", 600, 1302),
        line(f"日期：{day}", 100, 1450),
    ]


def context(
    kind: str = "diagnosis_certificate",
    *,
    disease: str = "BJ-TUMOR-CHEMO",
    seal: bool = False,
    declared: dict[str, str] | None = None,
    hospital: str = "BJ-EX-0001",
) -> Context:
    doc = next(c.document for c in reference_catalogs() if c.document.region.code == "110000")
    target = doc.disease(disease)
    assert target is not None
    return Context(
        applicant=Applicant(
            name="张三",
            id_number_hash=idnumber.lookup_hash(ZHANG, data_key=KEY),
            id_number_masked=idnumber.mask(ZHANG),
            sex="男",
            birth_date=date(1980, 1, 1),
        ),
        doc=doc,
        disease=target,
        hospital_code=hospital,
        kind=MaterialKind(kind=kind, name=kind, requirement="-", prereview=kind, requires_seal=seal),  # type: ignore[arg-type]
        declared=declared or {},
        today=date(2025, 6, 2),
    )


def outcomes(lines: list[OcrLine], ctx: Context, **extra: str) -> dict[str, str]:
    found = extract(lines, ctx.kind.prereview or "", titles=TITLES)
    values = stored_fields(found.values, data_key=KEY) | extra
    return {f.field: f.outcome for f in compare(values, readable=found.readable, ctx=ctx)}


def test_boxes_side_by_side_make_one_row_and_fields_are_read_by_their_labels() -> None:
    lines = certificate()
    assert rows(lines)[2] == "姓名:张三性别:男年龄:45岁"
    values = extract(lines, "diagnosis_certificate", titles=TITLES).values
    assert (values["name"], values["sex"], values["id_number"], values["hospital"]) == (
        "张三",
        "男",
        ZHANG,
        "北京协和医院",
    )
    assert (values["diagnosis"], values["date"], values["physician_title"]) == (
        "右肺腺癌",
        "2025-05-06",
        "chief",
    )
    assert "化学治疗" in values["diagnosis_context"]


def test_id_numbers_count_only_with_their_check_digit() -> None:
    assert id_number([f"公民身份号码{ZHANG}"]) == ("valid", ZHANG)
    assert id_number([f"身份证号:{ZHANG[:4]}O{ZHANG[5:]}"]) == ("valid", ZHANG)  # a 0 read as the letter O
    wrong = ZHANG[:-1] + str((int(ZHANG[-1]) + 1) % 10)
    assert id_number([f"身份证号:{wrong}"]) == ("invalid", wrong)
    assert id_number(["身份证号110105******9010医保卡号"]) == ("masked", "110105********9010")
    assert id_number(["门诊号:28594445"]) is None


def test_titles_match_the_longest_name_first() -> None:
    values = extract(certificate(title="副主任医师"), "diagnosis_certificate", titles=TITLES).values
    assert values["physician_title"] == "associate_chief"


def test_a_clean_certificate_matches_in_every_field() -> None:
    assert set(outcomes(certificate(), context()).values()) == {"match"}


def test_another_persons_certificate_is_a_mismatch() -> None:
    found = outcomes(certificate("李四", LI), context())
    assert found["name"] == found["id_number"] == "mismatch"
    # The same name with another person's number is caught by the number.
    assert outcomes(certificate("张三", LI), context())["id_number"] == "mismatch"


def test_an_unreadable_number_is_never_a_match() -> None:
    wrong = ZHANG[:-1] + str((int(ZHANG[-1]) + 1) % 10)
    assert outcomes(certificate(number=wrong), context())["id_number"] == "unreadable"
    assert (
        outcomes([ln for ln in certificate() if "身份证号" not in ln.text], context())["id_number"]
        == "unreadable"
    )


def test_diagnosis_is_checked_against_the_diseases_terms() -> None:
    assert (
        outcomes(certificate(diagnosis="鼻咽癌", advice="建议行放射治疗"), context())["diagnosis"]
        == "mismatch"
    )
    assert (
        outcomes(certificate(diagnosis="原发性高血压", advice="口服降压药"), context())["diagnosis"]
        == "mismatch"
    )
    assert (
        outcomes(certificate(diagnosis="鼻咽癌", advice="建议行放射治疗"), context(disease="BJ-TUMOR-RADIO"))[
            "diagnosis"
        ]
        == "match"
    )


def test_hospital_date_title_and_seal_rules() -> None:
    lines = certificate()
    lines[0] = line("河北省沧州市中心医院", 400, 100)
    assert outcomes(lines, context())["hospital"] == "mismatch"
    lines[0] = line("北京协合医院", 400, 100)  # one character off: misread, or another hospital
    assert outcomes(lines, context())["hospital"] == "unreadable"
    assert outcomes(certificate(day="2025年7月1日"), context())["date"] == "mismatch"  # after "today"
    ms = context(disease="BJ-MS")
    assert (
        outcomes(certificate(diagnosis="多发性硬化", title="主治医师"), ms)["physician_title"] == "mismatch"
    )
    assert outcomes(certificate(diagnosis="多发性硬化", title="副主任医师"), ms)["physician_title"] == "match"
    assert "physician_title" not in outcomes(certificate(), context())  # no rule, nothing declared
    assert (
        outcomes(certificate(), context(declared={"physician_title": "attending"}))["physician_title"]
        == "mismatch"
    )
    sealed = context(seal=True)
    assert outcomes(certificate(), sealed, seal="present")["seal"] == "match"
    assert outcomes(certificate(), sealed, seal="absent")["seal"] == "mismatch"
    assert outcomes(certificate(), sealed, seal="unknown")["seal"] == "unreadable"


def test_filing_form_compares_the_masked_number_and_the_chosen_hospital() -> None:
    form = [
        line("北京市医疗保险特殊病种备案申报表", 200, 100, 800),
        line("姓名", 100, 300, 80),
        line("张三", 300, 300, 80),
        line("性别", 600, 300, 80),
        line("男", 800, 300, 40),
        line("身份证号", 100, 400, 120),
        line(idnumber.mask(ZHANG), 300, 400, 300),
        line("申请病种", 100, 500, 120),
        line("恶性肿瘤化学治疗（化疗）", 300, 500, 400),
        line("定点医疗机构", 100, 600, 180),
        line("北京协和医院", 300, 600, 300),
    ]
    assert set(outcomes(form, context("filing_form")).values()) == {"match"}
    assert outcomes(form, context("filing_form", hospital="BJ-EX-0002"))["hospital"] == "mismatch"


def test_identity_card_and_an_unreadable_page() -> None:
    front = [
        line("姓名", 60, 80, 80),
        line("张三", 180, 76, 100),
        line("性别", 60, 170, 80),
        line("男", 180, 166, 40),
        line("民族", 330, 170, 80),
        line("汉", 450, 166, 40),
        line("出生", 60, 260, 80),
        line("1980年1月1日", 180, 254, 300),
        line("公民身份号码", 60, 620, 200),
        line(ZHANG, 330, 610, 500),
    ]
    assert outcomes(front, context("identity_front")) == {
        "name": "match",
        "id_number": "match",
        "sex": "match",
        "birth_date": "match",
    }
    back = [
        line("签发机关北京市公安局朝阳分局", 200, 530, 600),
        line("有效期限2016.05.01-2026.05.01", 200, 620, 600),
    ]
    assert outcomes(back, context("identity_back")) == {"valid_until": "match"}
    expired = [line("有效期限2005.05.01-2025.05.01", 200, 620, 600)]
    assert outcomes(expired, context("identity_back")) == {"valid_until": "mismatch"}
    assert set(outcomes([line("证", 10, 10, 20)], context()).values()) == {"unreadable"}


@pytest.mark.parametrize("document", ["diagnosis_certificate", "identity_front", "filing_form"])
def test_the_clear_number_is_never_stored(document: str) -> None:
    found = extract(certificate(), document, titles=TITLES)
    stored = stored_fields(found.values, data_key=KEY)
    assert ZHANG not in str(stored) and stored["id_number_masked"] == idnumber.mask(ZHANG)


def test_the_fast_track_needs_a_material_the_prereview_reads() -> None:
    doc = next(c.document for c in reference_catalogs() if c.document.region.code == "110000")
    on = [d.model_copy(update={"fast_track": d.code == "BJ-TUMOR-CHEMO"}) for d in doc.diseases]
    assert cross_reference_problems(doc.model_copy(update={"diseases": on})) == []
    unread = [k.model_copy(update={"prereview": None}) for k in doc.material_kinds]
    problems = cross_reference_problems(doc.model_copy(update={"diseases": on, "material_kinds": unread}))
    assert problems == [
        ("diseases[0].fast_track", "fast track needs at least one material the pre-review reads")
    ]
