"""Findings: each field read from a material, compared with the application and the catalog.

A finding is `match`, `mismatch` (with what was found) or `unreadable`. Only an exact agreement is a
match: a name one character off, or a hospital that is only similar, is not, because a match is what
lets the fast track approve without a person. An ID number is compared by its keyed hash (the clear
number read from the page is not kept); on MTB's own form, where it is printed masked, by the masked
form together with the name.

Which fields a document has: a diagnosis certificate — name, ID number, sex, diagnosis, hospital, date,
and the physician's title where a disease rule or the applicant's declaration asks for one, the seal
where the material requires it; an ID card front — name, ID number, sex, birth date; its back — the
validity; MTB's filing form — name, ID number, disease, hospital.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from typing import Any, Literal

from mtb.catalog.document import CatalogDocument, Disease, MaterialKind
from mtb.identity import idnumber
from mtb.prereview.extract import normalise

Outcome = Literal["match", "mismatch", "unreadable"]
LABELS = {"name": "姓名", "id_number": "身份证号", "sex": "性别", "birth_date": "出生日期",
          "diagnosis": "诊断", "hospital": "医疗机构", "date": "开具日期", "physician_title": "医师职称",
          "seal": "公章", "valid_until": "证件有效期"}
# A hospital name this similar to a catalog one is probably misread: neither a match nor a mismatch.
SIMILAR = 0.8


@dataclass(frozen=True)
class Finding:
    field: str
    outcome: Outcome
    found: str | None = None
    expected: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"field": self.field, "label": LABELS[self.field], "outcome": self.outcome,
                "found": self.found, "expected": self.expected, "note": self.note}


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number_hash: str
    id_number_masked: str
    sex: str  # 男 | 女
    birth_date: date


@dataclass(frozen=True)
class Context:
    applicant: Applicant
    doc: CatalogDocument
    disease: Disease
    hospital_code: str
    kind: MaterialKind
    declared: dict[str, str]
    today: date


def _name(values: dict[str, str], ctx: Context) -> Finding:
    found = values.get("name")
    if found is None:
        return Finding("name", "unreadable")
    return Finding("name", "match" if found == ctx.applicant.name else "mismatch", found, ctx.applicant.name)


def _id_number(values: dict[str, str], ctx: Context, *, masked_allowed: bool) -> Finding:
    state, expected = values.get("id_number_state"), ctx.applicant.id_number_masked
    if state == "valid":
        same = values.get("id_number_hash") == ctx.applicant.id_number_hash
        return Finding("id_number", "match" if same else "mismatch", values.get("id_number_masked"), expected)
    if state == "masked" and masked_allowed:
        found = values.get("id_number_masked")
        agree = found is not None and idnumber.masks_agree(found, expected)
        return Finding("id_number", "match" if agree else "mismatch", found, expected)
    note = "号码不完整或校验位不符" if state == "invalid" else None
    return Finding("id_number", "unreadable", note=note)


def _simple(field: str, values: dict[str, str], expected: str) -> Finding:
    found = values.get(field)
    if found is None:
        return Finding(field, "unreadable")
    return Finding(field, "match" if found == expected else "mismatch", found, expected)


def _diagnosis(values: dict[str, str], ctx: Context) -> Finding:
    found, text = values.get("diagnosis"), values.get("diagnosis_context", "")
    if found is None:
        return Finding("diagnosis", "unreadable")
    disease = ctx.disease
    terms = disease.diagnosis_terms or [[normalise(disease.name)]]
    if normalise(disease.name) in text or all(any(t in text for t in group) for group in terms):
        return Finding("diagnosis", "match", found, disease.name)
    other = next((d.name for d in ctx.doc.diseases if d.code != disease.code and d.diagnosis_terms
                  and all(any(t in text for t in group) for group in d.diagnosis_terms)), None)
    note = f"所写诊断属于“{other}”" if other else "未写明目录内的此病种"
    return Finding("diagnosis", "mismatch", found, disease.name, note)


def _hospital(values: dict[str, str], ctx: Context, *, chosen_only: bool) -> Finding:
    """A catalog hospital's full name on the page is a match. A name only similar to one (one character
    off) is left to a person: 北京大学第一医院 and 北京大学第三医院 differ by just that character."""
    found = values.get("hospital")
    chosen = ctx.doc.hospital(ctx.hospital_code)
    expected = chosen.name if chosen else ctx.hospital_code
    if found is None:
        return Finding("hospital", "unreadable")
    named = next((h for h in ctx.doc.hospitals if normalise(h.name) in found), None)
    if named is None:
        def likeness(name: str) -> float:
            return SequenceMatcher(None, normalise(name), found).ratio()

        similar = max(ctx.doc.hospitals, key=lambda h: likeness(h.name), default=None)
        if similar is not None and likeness(similar.name) >= SIMILAR:
            note = f"与目录中的“{similar.name}”相近，请人工核对"
            return Finding("hospital", "unreadable", found, expected, note)
        return Finding("hospital", "mismatch", found, expected, "不是本地区目录内的定点医疗机构")
    if chosen_only and named.code != ctx.hospital_code:
        return Finding("hospital", "mismatch", named.name, expected, "与申请所选定点医院不一致")
    note = None if named.code == ctx.hospital_code else "定点医疗机构，与申请所选定点医院不同"
    return Finding("hospital", "match", named.name, expected, note)


def _issue_date(values: dict[str, str], ctx: Context) -> Finding:
    found = values.get("date")
    declared = ctx.declared.get("issue_date")
    if found is None:
        return Finding("date", "unreadable")
    if date.fromisoformat(found) > ctx.today:
        return Finding("date", "mismatch", found, None, "开具日期晚于今天")
    if declared and declared != found:
        return Finding("date", "mismatch", found, declared, "与上传时填写的日期不一致")
    return Finding("date", "match", found, declared)


def _title(values: dict[str, str], ctx: Context) -> Finding | None:
    """Checked where a rule of the disease or the applicant's declaration names a title."""
    needed = next((r.title for r in ctx.disease.rules if r.material == ctx.kind.kind), None)
    declared = ctx.declared.get("physician_title")
    if needed is None and not declared:
        return None
    names = {t.code: t.name for t in ctx.doc.physician_titles}
    found = values.get("physician_title")
    expected = names.get(declared or "") or (names[needed] + "及以上" if needed else None)
    if found is None:
        return Finding("physician_title", "unreadable", expected=expected)
    rank, low = ctx.doc.title_rank(found), ctx.doc.title_rank(needed) if needed else None
    if low is not None and (rank is None or rank < low):
        return Finding("physician_title", "mismatch", names.get(found), expected, "低于此病种要求的职称")
    if declared and found != declared:
        return Finding("physician_title", "mismatch", names.get(found), expected, "与上传时填写的职称不一致")
    return Finding("physician_title", "match", names.get(found), expected)


def _seal(values: dict[str, str]) -> Finding:
    state = values.get("seal")
    if state == "present":
        return Finding("seal", "match", "有红色印章")
    if state == "absent":
        return Finding("seal", "mismatch", "未见红色印章", "加盖医院公章")
    return Finding("seal", "unreadable", note="黑白图片无法判断是否盖章")


def _valid_until(values: dict[str, str], ctx: Context) -> Finding:
    found = values.get("valid_until")
    if found is None:
        return Finding("valid_until", "unreadable")
    if found != "长期" and date.fromisoformat(found) < ctx.today:
        return Finding("valid_until", "mismatch", found, None, "证件已过有效期")
    return Finding("valid_until", "match", found)


def shown(finding: dict[str, Any]) -> dict[str, Any]:
    """A stored finding as staff see it: an ID number by today's mask, a birth date by its year only
    (identity/idnumber.py says why), whatever mask or date the finding was stored with."""
    out = dict(finding)
    for key in ("found", "expected"):
        value = out.get(key)
        if not value:
            continue
        if out["field"] == "id_number":
            out[key] = idnumber.mask(value)
        elif out["field"] == "birth_date":
            out[key] = f"{value[:4]}年"
    return out


def compare(values: dict[str, str], *, readable: bool, ctx: Context) -> list[Finding]:
    """The findings of one material (see the module docstring for which fields each document has)."""
    document = ctx.kind.prereview
    findings: list[Finding] = []
    if document in ("diagnosis_certificate", "identity_front", "filing_form"):
        findings += [_name(values, ctx), _id_number(values, ctx, masked_allowed=document == "filing_form")]
    if document in ("diagnosis_certificate", "identity_front"):
        findings.append(_simple("sex", values, ctx.applicant.sex))
    if document == "identity_front":
        findings.append(_simple("birth_date", values, ctx.applicant.birth_date.isoformat()))
    if document == "identity_back":
        findings.append(_valid_until(values, ctx))
    if document in ("diagnosis_certificate", "filing_form"):
        findings += [_diagnosis(values, ctx), _hospital(values, ctx, chosen_only=document == "filing_form")]
    if document == "diagnosis_certificate":
        findings.append(_issue_date(values, ctx))
        if (title := _title(values, ctx)) is not None:
            findings.append(title)
        if ctx.kind.requires_seal:
            findings.append(_seal(values))
    if not readable:
        return [Finding(f.field, "unreadable") for f in findings]
    return findings
