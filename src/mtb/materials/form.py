"""The application form as a PDF, with an embedded Chinese font (Noto Sans SC, from the
justmytype-intl-cjk package the install brings). The package ships a variable font whose default
instance is the thinnest weight, so the regular weight is instantiated once (fontTools, ~12 s) and
kept under `MTB_CACHE_PATH`; `mtb fonts` does it ahead of the first form.

Beijing: 《北京市医疗保险特殊病种备案申报表》 pre-filled for printing, with the boxes the physician fills
in and signs. Hubei: the electronic recognition form (门诊慢特病待遇认定申请表), generated from what was
filled in online. ID numbers are printed masked, like everywhere else.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from mtb.settings import get_settings

FONT = "NotoSansSC"


REGULAR_FILE = "NotoSansSC-Regular.ttf"


def regular_font_file(cache: Path) -> Path:
    """The regular-weight font file, made from the variable font on first use."""
    target = cache / REGULAR_FILE
    if target.exists():
        return target
    from fontTools.ttLib import TTFont as FontToolsFont
    from fontTools.varLib import instancer

    source = resources.files("justmytype_intl_cjk") / "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"
    with resources.as_file(source) as file:
        regular = instancer.instantiateVariableFont(FontToolsFont(str(file)), {"wght": 400},
                                                   updateFontNames=True)
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".font-")
    os.close(fd)
    regular.save(tmp)
    os.replace(tmp, target)  # atomic: several workers may race to make it
    return target


@lru_cache(maxsize=1)
def register_font() -> str:
    pdfmetrics.registerFont(TTFont(FONT, str(regular_font_file(get_settings().cache_path))))
    return FONT


@dataclass(frozen=True)
class FormData:
    region_code: str
    title: str
    application_id: str
    case_number: str | None
    name: str
    sex: str
    birth_date: date
    id_number_masked: str
    card_number_masked: str
    insurance_type: str
    insured_region: str
    disease: str
    category: str
    hospital: str
    laterality: str | None
    channel: str
    applicant: str
    relation: str
    status: str
    created: date
    submitted: date | None
    materials: list[tuple[str, str]]  # (material name, what was uploaded)
    physician_section: bool
    declaration: str


def render_form(data: FormData) -> bytes:
    font = register_font()
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1)
    small = ParagraphStyle("small", fontName=font, fontSize=9, leading=13, textColor=colors.grey)
    cell = ParagraphStyle("cell", fontName=font, fontSize=10.5, leading=15)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm, title=data.title,
                            author="MTB", subject=data.application_id)

    def p(text: str) -> Paragraph:
        return Paragraph(escape(text), cell)

    rows = [
        [p("姓名"), p(data.name), p("性别"), p(data.sex)],
        [p("出生年份"), p(f"{data.birth_date.year}年"), p("参保类型"), p(data.insurance_type)],
        [p("身份证号"), p(data.id_number_masked), p("医保卡号"), p(data.card_number_masked)],
        [p("参保地"), p(data.insured_region), p("病种类别"), p(data.category)],
        [p("申请病种"), p(data.disease + (f"（{data.laterality}）" if data.laterality else "")), "", ""],
        [p("定点医疗机构"), p(data.hospital), "", ""],
        [p("申请人"), p(data.applicant if data.relation == "本人" else f"{data.applicant}（为{data.relation}代办）"), p("办理渠道"), p(data.channel)],
        [p("申请日期"), p(data.created.isoformat()), p("提交日期"),
         p(data.submitted.isoformat() if data.submitted else "尚未提交")],
    ]
    style = TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
        ("BACKGROUND", (2, 0), (2, 3), colors.whitesmoke),
        ("BACKGROUND", (2, 6), (2, 7), colors.whitesmoke),
        ("SPAN", (1, 4), (3, 4)),
        ("SPAN", (1, 5), (3, 5)),
    ])
    widths = [28 * mm, 60 * mm, 24 * mm, 62 * mm]
    story: list[object] = [Paragraph(escape(data.title), title), Spacer(1, 3 * mm),
                           Paragraph(escape(f"受理编号：{data.case_number or '提交后生成'}　状态：{data.status}"),
                                     cell),
                           Spacer(1, 3 * mm), Table(rows, colWidths=widths, style=style)]
    if data.materials:
        material_rows = [[p("材料"), p("已提交")]] + [[p(n), p(u)] for n, u in data.materials]
        story += [Spacer(1, 4 * mm), Table(material_rows, colWidths=[70 * mm, 104 * mm], style=TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]))]
    if data.physician_section:
        doctor = [
            [p("诊断意见（医师填写）"), ""],
            [Spacer(1, 18 * mm), ""],
            [p("医师签字："), p("职称：")],
            [p("医疗机构（盖章）："), p("日期：　　年　　月　　日")],
        ]
        story += [Spacer(1, 4 * mm), Table(doctor, colWidths=[87 * mm, 87 * mm], style=TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.6, colors.black), ("SPAN", (0, 0), (1, 0)), ("SPAN", (0, 1), (1, 1)),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]))]
    story += [Spacer(1, 5 * mm), p(data.declaration), Spacer(1, 8 * mm),
              Paragraph("申请人签字（确认）：　　　　　　　　　　日期：　　年　　月　　日", cell),
              Spacer(1, 6 * mm), Paragraph("本表由 MTB 根据在线填写的信息生成。", small)]
    doc.build(story)  # type: ignore[arg-type]
    return buffer.getvalue()
