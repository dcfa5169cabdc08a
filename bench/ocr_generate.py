"""Synthetic documents with known truth, for the pre-review's accuracy (issue 9): diagnosis certificates,
ID card fronts and backs, and MTB's Beijing filing form, rendered with Pillow in the CJK font MTB ships
(Noto Sans SC), then photographed: noise, blur, rotation, phone-photo perspective, uneven light, JPEG.

Every document is made for an application (the applicant's name, ID number, sex, birth date, disease,
chosen hospital) and is either that applicant's or, on purpose, not: another person, the same name with
another ID number, another disease, a hospital outside the catalog, a future date, no seal. `truth.json`
lists each image with the values printed on it and, per field, the outcome a perfect reader would
report (match / mismatch), which bench/ocr_accuracy.py compares with MTB's.

Nothing here is a real person: ID numbers use the test range (sequence 900–999) with a valid check digit.

    python bench/ocr_generate.py --out var/bench/ocr --count 120 --seed 1
    python bench/ocr_generate.py --fixtures tests/prereview/images   # the small fixed set of the tests
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from mtb.identity import idnumber

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "志强",
    "海燕",
    "红梅",
    "玉兰",
    "国庆",
]
DISTRICTS = {
    "110105": "北京市朝阳区",
    "110108": "北京市海淀区",
    "110102": "北京市西城区",
    "110101": "北京市东城区",
}
STREETS = ["建国路", "中关村大街", "金融街", "东直门内大街", "望京西路", "学院路"]
DESIGNATED = ["北京协和医院", "北京大学第一医院", "北京大学人民医院", "首都医科大学附属北京同仁医院"]
NOT_DESIGNATED = ["北京市朝阳区康宁医院", "河北省沧州市中心医院", "北京仁爱骨科医院"]
TITLES = {
    "resident": "住院医师",
    "attending": "主治医师",
    "associate_chief": "副主任医师",
    "chief": "主任医师",
}
PHYSICIANS = ["王建国", "刘晓燕", "陈立新", "赵明华", "孙卫东", "周丽萍"]
# What a Beijing certificate says for a disease: (diagnosis, treatment advice), by disease code.
DIAGNOSES: dict[str, list[tuple[str, str]]] = {
    "BJ-TUMOR-CHEMO": [
        ("右肺腺癌（IV期）", "建议行化学治疗，定期复查"),
        ("胃癌术后", "继续化疗，每21天一周期"),
        ("乳腺浸润性导管癌", "建议门诊化学治疗"),
        ("弥漫大B细胞淋巴瘤", "建议行化疗"),
    ],
    "BJ-TUMOR-RADIO": [("鼻咽癌", "建议行放射治疗"), ("宫颈鳞癌", "建议门诊放疗")],
    "BJ-UREMIA-HD": [("慢性肾功能衰竭（尿毒症期）", "规律血液透析治疗，每周三次")],
    "BJ-MS": [("多发性硬化", "长期门诊随诊治疗")],
    "HB-CRF-DIALYSIS": [("慢性肾功能衰竭", "规律血液透析治疗")],
    "OTHER": [("原发性高血压（2级）", "口服降压药物，定期复查"), ("2型糖尿病", "控制饮食，口服降糖药物")],
}
FONT_FILE = "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"


@dataclass
class Person:
    name: str
    id_number: str
    sex: str
    birth_date: str
    address: str


@dataclass
class Sample:
    file: str
    document: str  # diagnosis_certificate | identity_front | identity_back | filing_form
    quality: str  # clean | phone | poor | blurred
    applicant: dict[str, str]
    application: dict[str, str]  # disease_code, hospital_name
    printed: dict[str, str]  # the values on the document (what a perfect reader extracts)
    expected: dict[str, str]  # per field: match | mismatch
    today: str
    notes: list[str] = field(default_factory=list)


def _font(size: int, weight: int = 400) -> ImageFont.FreeTypeFont:
    source = resources.files("justmytype_intl_cjk") / FONT_FILE
    font = ImageFont.truetype(str(source), size)
    font.set_variation_by_axes([weight])
    return font


def person(rng: random.Random, *, name: str | None = None) -> Person:
    district = rng.choice(list(DISTRICTS))
    born = date(1945, 1, 1) + timedelta(days=rng.randrange(0, 55 * 365))
    sequence = rng.randrange(900, 1000)
    number = idnumber.with_check_digit(f"{district}{born:%Y%m%d}{sequence:03d}")
    return Person(
        name=name or rng.choice(SURNAMES) + rng.choice(GIVEN),
        id_number=number,
        sex="男" if sequence % 2 else "女",
        birth_date=born.isoformat(),
        address=f"{DISTRICTS[district]}{rng.choice(STREETS)}{rng.randrange(1, 300)}号",
    )


def _age(p: Person, today: date) -> int:
    born = date.fromisoformat(p.birth_date)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _seal(draw_on: Image.Image, centre: tuple[int, int], radius: int, text: str) -> None:
    """A red round seal: ring, star, the hospital's name along the upper arc, multiplied onto the page."""
    size = radius * 2 + 8
    layer = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(layer)
    red = (214, 36, 36)
    c = size // 2
    d.ellipse([4, 4, size - 4, size - 4], outline=red, width=max(4, radius // 16))
    star = [
        (
            c + radius * 0.28 * math.cos(math.radians(-90 + i * 36)) * (1 if i % 2 == 0 else 0.4),
            c + radius * 0.28 * math.sin(math.radians(-90 + i * 36)) * (1 if i % 2 == 0 else 0.4),
        )
        for i in range(10)
    ]
    d.polygon(star, fill=red)
    font = _font(max(14, radius // 4), 700)
    span = 220
    for i, ch in enumerate(text):
        angle = -90 - span / 2 + span * (i + 0.5) / len(text)
        glyph = Image.new("L", (radius // 3, radius // 3), 0)
        ImageDraw.Draw(glyph).text((radius // 6, radius // 6), ch, font=font, fill=255, anchor="mm")
        glyph = glyph.rotate(-(angle + 90), resample=Image.Resampling.BICUBIC)
        x = c + (radius * 0.72) * math.cos(math.radians(angle)) - glyph.width / 2
        y = c + (radius * 0.72) * math.sin(math.radians(angle)) - glyph.height / 2
        layer.paste(Image.new("RGB", glyph.size, red), (int(x), int(y)), glyph)
    box = (centre[0] - c, centre[1] - c)
    region = draw_on.crop((box[0], box[1], box[0] + size, box[1] + size))
    from PIL import ImageChops

    draw_on.paste(ImageChops.multiply(region, layer), box)


def certificate(
    p: Person,
    *,
    hospital: str,
    diagnosis: tuple[str, str],
    title: str,
    issued: date,
    seal: bool,
    rng: random.Random,
) -> Image.Image:
    page = Image.new("RGB", (1240, 1754), (252, 252, 250))
    d = ImageDraw.Draw(page)
    ink = (25, 25, 30)
    d.text((620, 120), hospital, font=_font(46, 700), fill=ink, anchor="mm")
    d.text((620, 205), "诊断证明书", font=_font(58, 700), fill=ink, anchor="mm")
    d.text((1120, 280), f"门诊号：{rng.randrange(10**7, 10**8)}", font=_font(26), fill=ink, anchor="rm")
    d.line([(100, 310), (1140, 310)], fill=ink, width=3)
    body = _font(34)
    d.text((110, 370), f"姓名：{p.name}", font=body, fill=ink)
    d.text((520, 370), f"性别：{p.sex}", font=body, fill=ink)
    d.text((820, 370), f"年龄：{_age(p, issued)}岁", font=body, fill=ink)
    d.text((110, 440), f"身份证号：{p.id_number}", font=body, fill=ink)
    d.text(
        (110, 510), f"科别：{rng.choice(['肿瘤内科', '肾内科', '神经内科', '门诊部'])}", font=body, fill=ink
    )
    d.text((110, 600), f"诊断：{diagnosis[0]}", font=body, fill=ink)
    d.text((110, 670), f"处理意见：{diagnosis[1]}。", font=body, fill=ink)
    d.text((110, 740), "（此证明仅供医疗保险特殊病种备案使用）", font=_font(28), fill=(90, 90, 90))
    d.line([(100, 1260), (1140, 1260)], fill=ink, width=2)
    d.text((110, 1320), f"医师签名：{rng.choice(PHYSICIANS)}", font=body, fill=ink)
    d.text((620, 1320), f"职称：{title}", font=body, fill=ink)
    d.text((110, 1400), "医疗机构（盖章）", font=body, fill=ink)
    d.text((110, 1480), f"日期：{issued.year}年{issued.month}月{issued.day}日", font=body, fill=ink)
    if seal:
        _seal(page, (900, 1480), 115, hospital)
    return page


def id_front(p: Person) -> Image.Image:
    card = Image.new("RGB", (1200, 756), (236, 242, 246))
    d = ImageDraw.Draw(card)
    for y in range(0, 756, 6):  # the faint guilloche of the card
        d.line([(0, y), (1200, y + 40)], fill=(226, 234, 240), width=1)
    label, value, ink = _font(30), _font(38, 500), (20, 20, 24)
    grey = (80, 100, 120)
    born = date.fromisoformat(p.birth_date)
    d.text((70, 80), "姓名", font=label, fill=grey)
    d.text((190, 74), p.name, font=_font(44, 500), fill=ink)
    d.text((70, 170), "性别", font=label, fill=grey)
    d.text((190, 164), p.sex, font=value, fill=ink)
    d.text((330, 170), "民族", font=label, fill=grey)
    d.text((450, 164), "汉", font=value, fill=ink)
    d.text((70, 260), "出生", font=label, fill=grey)
    d.text((190, 254), f"{born.year}年{born.month}月{born.day}日", font=value, fill=ink)
    d.text((70, 350), "住址", font=label, fill=grey)
    d.text((190, 344), p.address[:12], font=value, fill=ink)
    d.text((190, 400), p.address[12:], font=value, fill=ink)
    d.text((70, 620), "公民身份号码", font=label, fill=grey)
    d.text((330, 610), p.id_number, font=_font(46, 600), fill=ink)
    d.rectangle([820, 90, 1120, 470], fill=(200, 206, 212))
    d.ellipse([900, 150, 1040, 300], fill=(170, 176, 184))
    d.rectangle([880, 320, 1060, 470], fill=(170, 176, 184))
    return card


def id_back(valid_from: date, valid_until: date | None, authority: str) -> Image.Image:
    card = Image.new("RGB", (1200, 756), (240, 240, 232))
    d = ImageDraw.Draw(card)
    ink, grey = (20, 20, 24), (80, 100, 120)
    d.ellipse([60, 50, 230, 220], outline=(200, 40, 40), width=8)
    d.text((660, 130), "中华人民共和国", font=_font(54, 700), fill=ink, anchor="mm")
    d.text((660, 250), "居民身份证", font=_font(80, 700), fill=ink, anchor="mm")
    d.text((200, 530), "签发机关", font=_font(30), fill=grey)
    d.text((380, 522), authority, font=_font(38, 500), fill=ink)
    until = "长期" if valid_until is None else f"{valid_until:%Y.%m.%d}"
    d.text((200, 620), "有效期限", font=_font(30), fill=grey)
    d.text((380, 612), f"{valid_from:%Y.%m.%d}-{until}", font=_font(38, 500), fill=ink)
    return card


def filing_form(
    p: Person, *, disease: str, hospital: str, title: str, issued: date, rng: random.Random
) -> Image.Image:
    page = Image.new("RGB", (1240, 1754), (252, 252, 250))
    d = ImageDraw.Draw(page)
    ink = (25, 25, 30)
    d.text((620, 120), "北京市医疗保险特殊病种备案申报表", font=_font(44, 700), fill=ink, anchor="mm")
    d.text(
        (110, 190),
        f"申请编号：{rng.getrandbits(64):016x}　状态：已提交",
        font=_font(24),
        fill=(110, 110, 110),
    )
    cell = _font(32)
    masked = idnumber.mask(p.id_number)
    rows = [
        ("姓名", p.name, "性别", p.sex),
        ("出生日期", p.birth_date, "参保类型", "职工医保"),
        ("身份证号", masked, "医保卡号", f"C****{rng.randrange(1000, 10000)}"),
        ("申请病种", disease, "", ""),
        ("定点医疗机构", hospital, "", ""),
    ]
    top, height, xs = 240, 90, [100, 330, 700, 860, 1140]
    for i, row in enumerate(rows):
        y = top + i * height
        d.rectangle([xs[0], y, xs[-1], y + height], outline=ink, width=2)
        for j, text in enumerate(row):
            if text:
                d.text((xs[j] + 16, y + height / 2), text, font=cell, fill=ink, anchor="lm")
        if row[2]:
            for x in xs[1:-1]:
                d.line([(x, y), (x, y + height)], fill=ink, width=2)
        else:
            d.line([(xs[1], y), (xs[1], y + height)], fill=ink, width=2)
    y = top + len(rows) * height + 40
    d.rectangle([100, y, 1140, y + 380], outline=ink, width=2)
    d.text((116, y + 20), "诊断意见（医师填写）", font=cell, fill=ink)
    d.text((160, y + 110), "符合特殊病种备案条件", font=_font(36, 300), fill=(30, 40, 120))
    d.text((116, y + 230), f"医师签字：{rng.choice(PHYSICIANS)}", font=cell, fill=ink)
    d.text((620, y + 230), f"职称：{title}", font=cell, fill=ink)
    d.text((116, y + 310), f"日期：{issued.year}年{issued.month}月{issued.day}日", font=cell, fill=ink)
    _seal(page, (900, y + 300), 115, hospital)
    return page


def _perspective_coefficients(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> list[float]:
    """The 8 coefficients PIL's PERSPECTIVE transform takes, mapping output points `dst` to input `src`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    n = 8
    m = [r + [b] for r, b in zip(rows, rhs, strict=True)]
    for col in range(n):  # Gaussian elimination with partial pivoting
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                factor = m[r][col] / m[col][col]
                m[r] = [a - factor * b for a, b in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def photograph(doc: Image.Image, quality: str, rng: random.Random) -> Image.Image:
    """The document as a phone or a scanner would give it."""
    if quality == "clean":
        img = doc.rotate(rng.uniform(-1, 1), resample=Image.Resampling.BICUBIC, fillcolor=(250, 250, 248))
    else:
        w, h = doc.size
        margin = int(0.08 * max(w, h))
        canvas = Image.new(
            "RGB", (w + 2 * margin, h + 2 * margin), tuple(rng.randrange(90, 150) for _ in range(3))
        )
        canvas.paste(doc, (margin, margin))
        doc = canvas
        w, h = doc.size
        skew = 0.05 if quality == "phone" else 0.03
        jitter = [(rng.uniform(-skew, skew) * w, rng.uniform(-skew, skew) * h) for _ in range(4)]
        corners = [(0, 0), (w, 0), (w, h), (0, h)]
        moved = [(x + dx, y + dy) for (x, y), (dx, dy) in zip(corners, jitter, strict=True)]
        img = doc.transform(
            (w, h),
            Image.Transform.PERSPECTIVE,
            _perspective_coefficients(moved, corners),
            resample=Image.Resampling.BICUBIC,
            fillcolor=(100, 100, 100),
        )
        img = img.rotate(
            rng.uniform(-4, 4), resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(100, 100, 100)
        )
        light = Image.linear_gradient("L").resize(img.size).rotate(rng.uniform(0, 360))
        img = Image.composite(img, ImageEnhance.Brightness(img).enhance(rng.uniform(0.65, 0.85)), light)
    blur = {
        "clean": 0.0,
        "phone": rng.uniform(0.4, 1.0),
        "poor": rng.uniform(1.2, 1.8),
        "blurred": rng.uniform(6.0, 9.0),
    }[quality]
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if quality != "clean":
        noise = Image.effect_noise(img.size, rng.uniform(8, 20)).convert("RGB")
        img = Image.blend(img, noise, 0.08)
    img.thumbnail((1400, 1400) if quality != "clean" else (1240, 1754))
    return img


def jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _applicant(p: Person) -> dict[str, str]:
    return {"name": p.name, "id_number": p.id_number, "sex": p.sex, "birth_date": p.birth_date}


def make_certificate(
    rng: random.Random,
    applicant: Person,
    *,
    case: str,
    quality: str,
    today: date,
    disease: str = "BJ-TUMOR-CHEMO",
    hospital: str | None = None,
    seal: bool = True,
    other: Person | None = None,
) -> tuple[Image.Image, Sample]:
    """A certificate for the applicant's application; `case` says what, if anything, is wrong with it
    (`other_person` shows `other`, or someone made up)."""
    hospital = hospital or rng.choice(DESIGNATED)
    shown = applicant
    expected = {f: "match" for f in ("name", "id_number", "sex", "diagnosis", "hospital", "date")}
    if case in ("other_person", "same_name"):
        shown = other or person(rng, name=applicant.name if case == "same_name" else None)
        expected |= {
            "name": "match" if shown.name == applicant.name else "mismatch",
            "id_number": "mismatch",
            "sex": "match" if shown.sex == applicant.sex else "mismatch",
        }
    diagnosis_code = disease
    if case == "other_disease":
        diagnosis_code = rng.choice(["OTHER", "BJ-TUMOR-RADIO" if disease != "BJ-TUMOR-RADIO" else "BJ-MS"])
        expected["diagnosis"] = "mismatch"
    issued = today - timedelta(days=rng.randrange(3, 60))
    if case == "future_date":
        issued = today + timedelta(days=rng.randrange(5, 40))
        expected["date"] = "mismatch"
    if case == "not_designated":
        hospital = rng.choice(NOT_DESIGNATED)
        expected["hospital"] = "mismatch"
    if case == "no_seal":
        seal = False
    expected["seal"] = "match" if seal else "mismatch"
    title_code = rng.choice(list(TITLES))
    diagnosis = rng.choice(DIAGNOSES[diagnosis_code])
    page = certificate(
        shown,
        hospital=hospital,
        diagnosis=diagnosis,
        title=TITLES[title_code],
        issued=issued,
        seal=seal,
        rng=rng,
    )
    printed = {
        "name": shown.name,
        "id_number": shown.id_number,
        "sex": shown.sex,
        "diagnosis": diagnosis[0],
        "hospital": hospital,
        "date": issued.isoformat(),
        "physician_title": title_code,
        "seal": "present" if seal else "absent",
    }
    sample = Sample(
        "",
        "diagnosis_certificate",
        quality,
        _applicant(applicant),
        {"disease_code": disease, "hospital_name": hospital if case != "not_designated" else DESIGNATED[0]},
        printed,
        expected,
        today.isoformat(),
        [case],
    )
    return photograph(page, quality, rng), sample


def make_id_front(
    rng: random.Random, applicant: Person, *, case: str, quality: str, today: date
) -> tuple[Image.Image, Sample]:
    shown = applicant if case == "own" else person(rng, name=applicant.name if case == "same_name" else None)
    expected = {
        "name": "match" if shown.name == applicant.name else "mismatch",
        "id_number": "match" if shown is applicant else "mismatch",
        "sex": "match" if shown.sex == applicant.sex else "mismatch",
        "birth_date": "match" if shown.birth_date == applicant.birth_date else "mismatch",
    }
    printed = {
        "name": shown.name,
        "id_number": shown.id_number,
        "sex": shown.sex,
        "birth_date": shown.birth_date,
    }
    sample = Sample(
        "", "identity_front", quality, _applicant(applicant), {}, printed, expected, today.isoformat(), [case]
    )
    return photograph(id_front(shown), quality, rng), sample


def make_id_back(
    rng: random.Random, applicant: Person, *, case: str, quality: str, today: date
) -> tuple[Image.Image, Sample]:
    start = today - timedelta(days=rng.randrange(400, 3000))
    until: date | None = start.replace(year=start.year + 20)
    if case == "expired":
        start = today - timedelta(days=rng.randrange(3700, 7000))
        until = start.replace(year=start.year + 10)
    elif case == "long_term":
        until = None
    expected = {"valid_until": "mismatch" if case == "expired" else "match"}
    printed = {"valid_until": "长期" if until is None else until.isoformat()}
    sample = Sample(
        "", "identity_back", quality, _applicant(applicant), {}, printed, expected, today.isoformat(), [case]
    )
    return photograph(id_back(start, until, "北京市公安局朝阳分局"), quality, rng), sample


def make_form(
    rng: random.Random,
    applicant: Person,
    *,
    case: str,
    quality: str,
    today: date,
    disease_name: str = "恶性肿瘤化学治疗（化疗）",
) -> tuple[Image.Image, Sample]:
    shown = applicant if case == "own" else person(rng)
    hospital = DESIGNATED[0] if case != "other_hospital" else DESIGNATED[1]
    expected = {
        "name": "match" if shown is applicant else "mismatch",
        "id_number": "match" if shown is applicant else "mismatch",
        "diagnosis": "match",
        "hospital": "match" if case != "other_hospital" else "mismatch",
    }
    page = filing_form(
        shown,
        disease=disease_name,
        hospital=hospital,
        title=TITLES["chief"],
        issued=today - timedelta(days=5),
        rng=rng,
    )
    printed = {
        "name": shown.name,
        "id_number": idnumber.mask(shown.id_number),
        "diagnosis": disease_name,
        "hospital": hospital,
    }
    sample = Sample(
        "",
        "filing_form",
        quality,
        _applicant(applicant),
        {"disease_code": "BJ-TUMOR-CHEMO", "hospital_name": DESIGNATED[0]},
        printed,
        expected,
        today.isoformat(),
        [case],
    )
    return photograph(page, quality, rng), sample


CASES = {
    "diagnosis_certificate": [
        "own",
        "own",
        "own",
        "other_person",
        "same_name",
        "other_disease",
        "future_date",
        "not_designated",
        "no_seal",
    ],
    "identity_front": ["own", "own", "other_person", "same_name"],
    "identity_back": ["own", "long_term", "expired"],
    "filing_form": ["own", "own", "other_person", "other_hospital"],
}
MIX = ["diagnosis_certificate"] * 5 + ["identity_front"] * 2 + ["identity_back", "filing_form"]
QUALITIES = ["clean", "phone", "phone", "poor"]


def generate(out: Path, count: int, seed: int, today: date) -> list[Sample]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    samples = []
    makers = {
        "diagnosis_certificate": make_certificate,
        "identity_front": make_id_front,
        "identity_back": make_id_back,
        "filing_form": make_form,
    }
    for i in range(count):
        document = MIX[i % len(MIX)]
        quality = "blurred" if i % 25 == 24 else rng.choice(QUALITIES)
        applicant = person(rng)
        img, sample = makers[document](
            rng, applicant, case=rng.choice(CASES[document]), quality=quality, today=today
        )
        sample.file = f"{i:04d}-{document}.jpg"
        (out / sample.file).write_bytes(jpeg(img, rng.randrange(60, 90)))
        samples.append(sample)
    (out / "truth.json").write_text(json.dumps([asdict(s) for s in samples], ensure_ascii=False, indent=1))
    return samples


def fixtures(out: Path, today: date) -> list[Sample]:
    """The tests' fixed set, for the named actors of tests/factories.py (张三, 李四, 赵六)."""
    rng = random.Random(9)
    zhang = Person(
        "张三", idnumber.with_check_digit("11010519800101901"), "男", "1980-01-01", "北京市朝阳区建国路8号"
    )
    li = Person(
        "李四", idnumber.with_check_digit("11010819750101902"), "女", "1975-01-01", "北京市海淀区学院路5号"
    )
    zhao = Person(
        "赵六",
        idnumber.with_check_digit("42902119600101904"),
        "女",
        "1960-01-01",
        "湖北省神农架林区松柏镇神农大道3号",
    )
    made: list[tuple[str, tuple[Image.Image, Sample]]] = [
        (
            "cert-zhang.jpg",
            make_certificate(rng, zhang, case="own", quality="phone", today=today, hospital=DESIGNATED[0]),
        ),
        ("form-zhang.jpg", make_form(rng, zhang, case="own", quality="phone", today=today)),
        (
            "cert-li-for-zhang.jpg",
            make_certificate(
                rng,
                zhang,
                case="other_person",
                other=li,
                quality="phone",
                today=today,
                hospital=DESIGNATED[0],
            ),
        ),
        ("cert-zhang-blurred.jpg", make_certificate(rng, zhang, case="own", quality="blurred", today=today)),
        (
            "cert-zhang-radio.jpg",
            make_certificate(
                rng, zhang, case="other_disease", quality="clean", today=today, hospital=DESIGNATED[0]
            ),
        ),
        ("id-front-zhao.jpg", make_id_front(rng, zhao, case="own", quality="phone", today=today)),
        ("id-back-zhao.jpg", make_id_back(rng, zhao, case="own", quality="phone", today=today)),
        (
            "cert-zhao-noseal.jpg",
            make_certificate(
                rng,
                zhao,
                case="no_seal",
                quality="clean",
                today=today,
                disease="HB-CRF-DIALYSIS",
                hospital="神农架林区人民医院",
            ),
        ),
    ]
    out.mkdir(parents=True, exist_ok=True)
    samples = []
    for name, (img, sample) in made:
        sample.file = name
        (out / name).write_bytes(jpeg(img, 80))
        samples.append(sample)
    (out / "truth.json").write_text(json.dumps([asdict(s) for s in samples], ensure_ascii=False, indent=1))
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("var/bench/ocr"))
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2025, 6, 2))
    parser.add_argument("--fixtures", type=Path, help="write the tests' fixed set here instead")
    args = parser.parse_args(argv)
    samples: list[Any] = (
        fixtures(args.fixtures, args.today)
        if args.fixtures
        else generate(args.out, args.count, args.seed, args.today)
    )
    print(f"{len(samples)} images in {args.fixtures or args.out}")


if __name__ == "__main__":
    main()
