"""Example values: what a catalog holds that the source documents do not state.

They let the reference regions run end to end, but they are not policy: every one is listed on the admin
catalog page as the checklist to confirm before going live, answers decided by one say so (`basis:
"example"` in the API, "示例" on pages), and with `MTB_ENV=production` a catalog that still holds any is
neither loaded nor served unless the operator sets `MTB_ALLOW_EXAMPLE_POLICY=true` (then they are
accepted knowingly, and still marked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mtb.catalog.document import CatalogDocument, Disease

Basis = Literal["policy", "example"]


@dataclass(frozen=True)
class ExampleValue:
    path: str  # where in the catalog file
    what: str  # what it decides, in Chinese
    value: str


def basis(is_example: bool) -> Basis:
    return "example" if is_example else "policy"


def review_due_basis(doc: CatalogDocument) -> Basis:
    return basis(doc.review_due_is_example)


def review_period_basis(disease: Disease | None) -> Basis:
    return basis(disease is not None and disease.review_period_is_example)


def example_values(doc: CatalogDocument) -> list[ExampleValue]:
    """Every example value of a catalog, in file order."""
    out: list[ExampleValue] = []
    if doc.review_due_is_example:
        out.append(ExampleValue("review_due_working_days", "审核时限", f"提交后 {doc.review_due_working_days} 个工作日"))
    for i, d in enumerate(doc.diseases):
        if d.review_period_is_example and d.review_period_years is not None:
            out.append(ExampleValue(f"diseases[{i}].review_period_years", f"复审期限（{d.name}）",
                                    f"{d.review_period_years} 年"))
        if d.diagnosis_terms_is_example and d.diagnosis_terms:
            out.append(ExampleValue(f"diseases[{i}].diagnosis_terms", f"预审诊断用语（{d.name}）",
                                    "；".join("或".join(group) for group in d.diagnosis_terms)))
        if "示例" in d.note:
            out.append(ExampleValue(f"diseases[{i}].note", f"病种说明（{d.name}）", d.note))
        for j, b in enumerate(d.benefits):
            if b.is_example:
                out.append(ExampleValue(f"diseases[{i}].benefits[{j}]", f"待遇（{d.name}，{b.insurance_type}）",
                                        b.note or str(b.reimbursement_ratio)))
    for i, k in enumerate(doc.material_kinds):
        if k.max_age_is_example and k.max_age_days is not None:
            out.append(ExampleValue(f"material_kinds[{i}].max_age_days", f"材料时效（{k.name}）",
                                    f"出具日期起 {k.max_age_days} 天内"))
    if doc.change is not None and doc.change.is_example:
        out.append(ExampleValue("change", "在线变更备案", doc.change.source))
    if doc.renewal is not None and doc.renewal.is_example:
        out.append(ExampleValue("renewal", "续期办理时间",
                                f"到期前 {doc.renewal.opens_days_before} 天开放，到期后宽限 {doc.renewal.grace_days} 天"))
    for name, label in (("window_address", "窗口地址"), ("window_hours", "窗口办理时间"), ("hotline", "咨询电话")):
        item = getattr(doc.contact, name)
        if item.is_example:
            out.append(ExampleValue(f"contact.{name}", label, item.value or ""))
    for i, h in enumerate(doc.hospitals):
        if h.is_example:
            out.append(ExampleValue(f"hospitals[{i}]", "定点医疗机构", f"{h.name}（{h.code}）"))
    return out


CONFIRM = "(confirm it in a new catalog version, or set MTB_ALLOW_EXAMPLE_POLICY=true)"


def example_refusal(file: str, doc: CatalogDocument) -> list[tuple[str, str]]:
    """(path, reason) for every example value, as a production load or start-up refuses them."""
    return [(e.path, f"example value not confirmed: {e.what} = {e.value} {CONFIRM}") for e in example_values(doc)]
