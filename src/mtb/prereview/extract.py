"""Fields of a document, from the lines the OCR engine read.

Steps: lines are put into rows (boxes side by side on the page make one row, left to right), the text
is normalised (full-width forms to ASCII, spaces dropped), then each field is found by its label the
way these documents print it (姓名, 性别, 公民身份号码, 诊断, 日期 ...). What no label or pattern
finds is left out: the comparison reports it as unreadable, never guesses.

Resident ID numbers: digits the engine confuses with letters are read as digits inside a run of
digits, and a number counts only with a valid GB 11643 check digit. A number printed masked
(`**************0021` as MTB prints it on its forms, or `110105********0021`) is kept as masked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from mtb.prereview.ocr import OcrLine

CJK = "\u4e00-\u9fff"
# Labels that end a value printed on the same row as another label.
_NEXT_LABEL = ("性别", "年龄", "民族", "出生", "身份", "公民", "科别", "科室", "门诊", "住院", "病历", "职业",
               "住址", "地址", "诊断", "日期", "医师", "职称", "电话", "号码", "参保", "医保", "病种")
_NAME = re.compile(rf"姓名:?([{CJK}·]{{2,8}})")
_SEX = re.compile(r"性别:?([男女])")
_MASKED = re.compile(r"(\d{0,6})[*xX]{6,14}(\d{3}[\dX])")
_DIGITISH = re.compile(r"[0-9OoDQIl|ZSBxX×]{15,}")
_CONFUSED = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "Z": "2",
                           "S": "5", "B": "8", "x": "X", "×": "X"})
_DATE = re.compile(r"((?:19|20)\d{2})[年.\-/]([01]?\d)[月.\-/]([0-3]?\d)日?")
_BIRTH = re.compile(r"出生:?((?:19|20)\d{2})年([01]?\d)月([0-3]?\d)日?")
_VALIDITY = re.compile(r"有效期限?:?((?:19|20)\d{2})[年.\-/]([01]?\d)[月.\-/]([0-3]?\d)日?[-—~至]+"
                       r"(长期|((?:19|20)\d{2})[年.\-/]([01]?\d)[月.\-/]([0-3]?\d)日?)")
_DIAGNOSIS = re.compile(r"(?:临床诊断|诊断结果|诊断意见|初步诊断|诊断)(?!证明|书)[^:]{0,6}?:?(.*)")
_HOSPITAL = re.compile(rf"([{CJK}()]{{2,30}}?(?:医院|卫生院|医疗中心|保健院))")
_FORM_HOSPITAL = re.compile(r"定点医疗机构:?(.+)")
_FORM_DISEASE = re.compile(r"申请病种:?(.+)")
# Below this many characters read with confidence the page is taken as unreadable.
MIN_CHARACTERS = 12
MIN_SCORE = 0.5


@dataclass(frozen=True)
class Extracted:
    """What was read. `values` holds the fields found (the ID number in clear: never stored as is)."""

    values: dict[str, str]
    characters: int
    mean_score: float

    @property
    def readable(self) -> bool:
        return self.characters >= MIN_CHARACTERS


def normalise(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).replace("：", ":")


def rows(lines: list[OcrLine]) -> list[str]:
    """Lines grouped into rows: a line joins a row when its vertical centre lies within the row's band."""
    grouped: list[tuple[float, float, list[OcrLine]]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        centre = (line.box[1] + line.box[3]) / 2
        if grouped and grouped[-1][0] <= centre <= grouped[-1][1]:
            top, bottom, members = grouped[-1]
            members.append(line)
            grouped[-1] = (top, bottom, members)
        else:
            grouped.append((line.box[1], line.box[3], [line]))
    return [normalise("".join(ln.text for ln in sorted(members, key=lambda ln: ln.box[0])))
            for _top, _bottom, members in grouped]


def _cut_at_label(value: str) -> str:
    end = min((i for i in (value.find(label) for label in _NEXT_LABEL) if i > 0), default=len(value))
    return value[:end]


def _first(pattern: re.Pattern[str], texts: list[str]) -> re.Match[str] | None:
    return next((m for t in texts if (m := pattern.search(t))), None)


def _iso(year: str, month: str, day: str) -> str | None:
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def id_number(texts: list[str]) -> tuple[str, str] | None:
    """("valid", number) or ("masked", masked form) or ("invalid", what was read), or None."""
    invalid = None
    for text in texts:
        if masked := _MASKED.search(text):
            shown = masked.group(1)
            return "masked", f"{shown}{'*' * (14 - len(shown))}{masked.group(2)}"
        for run in _DIGITISH.findall(text):
            digits = run.translate(_CONFUSED)
            if sum(c.isdigit() for c in digits) < 14:
                continue
            for start in range(len(digits) - 17):
                candidate = digits[start:start + 18]
                if re.fullmatch(r"\d{17}[\dX]", candidate):
                    try:
                        ric.validate(candidate)
                        return "valid", candidate
                    except ValidationError:
                        invalid = invalid or candidate
    return ("invalid", invalid) if invalid else None


def physician_title(texts: list[str], titles: dict[str, str]) -> str | None:
    """The code of the title printed on the page; longest names first (副主任医师 before 主任医师)."""
    by_length = sorted(titles.items(), key=lambda item: -len(item[1]))
    for text in texts:
        for code, name in by_length:
            if name in text:
                return code
    return None


def _issue_date(texts: list[str]) -> str | None:
    labelled = [t for t in texts if "日期" in t and "出生" not in t]
    for text in labelled + [t for t in reversed(texts) if "出生" not in t]:
        if (m := _DATE.search(text)) and (day := _iso(*m.groups())):
            return day
    return None


def _diagnosis(texts: list[str]) -> tuple[str | None, str]:
    """The diagnosis as printed, and the text from the diagnosis on (where the treatment is named too)."""
    for i, text in enumerate(texts):
        if (m := _DIAGNOSIS.search(text)) and "证明" not in text:
            value = m.group(1) or (texts[i + 1] if i + 1 < len(texts) else "")
            return (value or None), "".join(texts[i:])
    return None, ""


def extract(lines: list[OcrLine], document: str, *, titles: dict[str, str]) -> Extracted:
    """The fields of a `document` (a material kind's `prereview` type) found in `lines`."""
    confident = [ln for ln in lines if ln.score >= MIN_SCORE]
    characters = sum(len(normalise(ln.text)) for ln in confident)
    mean = sum(ln.score for ln in lines) / len(lines) if lines else 0.0
    texts = rows(confident)
    values: dict[str, str] = {}
    if document in ("diagnosis_certificate", "identity_front", "filing_form"):
        if m := _first(_NAME, texts):
            name = _cut_at_label(m.group(1))
            if len(name) >= 2:
                values["name"] = name
        if m := _first(_SEX, texts):
            values["sex"] = m.group(1)
        if found := id_number(texts):
            values["id_number_state"], values["id_number"] = found
    if document == "identity_front" and (m := _first(_BIRTH, texts)) and (birth := _iso(*m.groups())):
        values["birth_date"] = birth
    if document == "identity_back" and (m := _first(_VALIDITY, texts)):
        until = "长期" if m.group(4) == "长期" else _iso(m.group(5), m.group(6), m.group(7))
        if until:
            values["valid_until"] = until
    if document == "diagnosis_certificate":
        diagnosis, context = _diagnosis(texts)
        if diagnosis:
            values["diagnosis"] = diagnosis[:200]
            values["diagnosis_context"] = context[:500]
        if m := _first(_HOSPITAL, texts):
            values["hospital"] = m.group(1)
        if day := _issue_date(texts):
            values["date"] = day
        if title := physician_title(texts, titles):
            values["physician_title"] = title
    if document == "filing_form":
        if m := _first(_FORM_DISEASE, texts):
            values["diagnosis"] = values["diagnosis_context"] = _cut_at_label(m.group(1))[:200]
        if m := _first(_FORM_HOSPITAL, texts):
            values["hospital"] = _cut_at_label(m.group(1))
    return Extracted(values, characters, round(mean, 3))
