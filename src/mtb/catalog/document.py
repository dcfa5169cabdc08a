"""The shape of a catalog file (`data/catalog/<region>-<version>.yaml`), validated by Pydantic.

A catalog file is one region's policy at one version: what can be applied for, through which channels,
with which materials, under which rules, at which designated hospitals. Values the source documents do
not state are allowed only when marked as examples (`is_example: true`), so an example is never mistaken
for policy.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mtb.timeutil import Day

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Region(Strict):
    code: Annotated[str, Field(pattern=r"^\d{6}$")]
    name: Text
    program: Text = Field(description="The benefit's name in this region, e.g. 特殊门诊备案")
    entry: Text = Field(description="The name of the online entry people tap, e.g. 门诊特殊病备案")
    form_title: Text = Field(description="The title of the application form MTB generates")
    form_signed_by_physician: bool = Field(
        description="The form is printed for the physician to fill in and sign (Beijing), not only confirmed")


class Channel(Strict):
    code: Code
    name: Text
    kind: Literal["online", "window"]
    note: str = ""


class Category(Strict):
    code: Code
    name: Text


class PhysicianTitle(Strict):
    code: Code
    name: Text


class MaterialField(Strict):
    """An extra value a material needs on upload, e.g. the issuing physician's title."""

    name: Literal["physician_title", "issuing_hospital", "issue_date"]
    label: Text
    required: bool = True


class MaterialKind(Strict):
    kind: Code
    name: Text
    requirement: Text
    generated: bool = Field(default=False, description="Made by MTB from the application, not uploaded")
    requires_seal: bool = False
    fields: list[MaterialField] = []
    prereview: Literal["diagnosis_certificate", "identity_front", "identity_back", "filing_form"] | None = Field(
        default=None, description="How the automated pre-review reads this material (None: it is not read)")
    max_age_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        default=None, description="An `issue_date` older than this many days is a warning before submitting")
    max_age_is_example: bool = False
    how_to: str = Field(default="", description="How to obtain it, said where it is offered (e.g. print, sign)")


class MaterialRequirement(Strict):
    kind: Code
    required: bool = True


class MinPhysicianTitleRule(Strict):
    """The named material must be issued by a physician of at least this title."""

    type: Literal["min_physician_title"]
    material: Code
    title: Code
    source: Text


Rule = Annotated[MinPhysicianTitleRule, Field(discriminator="type")]


class Declaration(Strict):
    """What the applicant confirms before submitting; its version goes into the history with the confirmation."""

    version: Code
    text: Text
    source: Text


class Option(Strict):
    code: Code
    name: Text


class Benefit(Strict):
    """Benefit data shown with a filing. Ratios the documents do not state stay empty or are examples."""

    insurance_type: Literal["employee", "resident"]
    reimbursement_ratio: Annotated[float, Field(gt=0, le=1)] | None = None
    annual_limit_yuan: Annotated[int, Field(ge=0)] | None = None
    note: str = ""
    is_example: bool = False


class Disease(Strict):
    code: Code
    name: Text
    category: Code
    group: str = ""
    national_codes: list[Annotated[str, Field(pattern=r"^M\d{5}$")]] = []
    national_code_status: Literal["to_verify", "verified"] = "to_verify"
    review_period_years: Annotated[int, Field(ge=1, le=10)] | None = None
    review_period_is_example: bool = False
    laterality: list[Option] | None = Field(
        default=None, description="When set, an application must choose one of these (e.g. one eye / both eyes)")
    materials: list[MaterialRequirement] | None = Field(
        default=None, description="Overrides the region's default material list for this disease")
    rules: list[Rule] = []
    two_stage_review: bool = Field(default=False, description="An approval needs a second reviewer's confirmation")
    diagnosis_terms: list[list[Text]] = Field(
        default=[], description="What a certificate says for this disease (pre-review): one term of each group")
    diagnosis_terms_is_example: bool = Field(
        default=False, description="The terms are not from the source documents (an example to confirm)")
    fast_track: bool = Field(
        default=False, description="Approve automatically when every pre-review finding matches (administrator's choice)")
    benefits: list[Benefit] = []
    note: str = ""


class ChangePolicy(Strict):
    """Changing a filing (e.g. another designated hospital): which materials a change needs."""

    materials: list[MaterialRequirement] = []
    source: Text
    is_example: bool = Field(default=False, description="The source documents do not state the change policy")


class RenewalPolicy(Strict):
    """Renewing a filing at the end of its re-review period."""

    opens_days_before: Annotated[int, Field(ge=1, le=366)]
    grace_days: Annotated[int, Field(ge=0, le=366)]
    is_example: bool = False
    materials: list[MaterialRequirement] | None = Field(
        default=None, description="None: the disease's materials, as for a new application")
    source: Text


class ContactItem(Strict):
    """One way to reach the agency. `value` None: the source documents do not state it."""

    value: str | None = None
    is_example: bool = False
    note: str = ""


class Contact(Strict):
    """Where a person asks: the window's address and hours, and the hotline (e.g. the national 12393)."""

    window_address: ContactItem = ContactItem()
    window_hours: ContactItem = ContactItem()
    hotline: ContactItem = ContactItem()


class Hospital(Strict):
    code: Code
    name: Text
    level: str = ""
    is_example: bool = False


class CatalogDocument(Strict):
    schema_version: Literal[1]
    region: Region
    version: Code
    effective_from: Day
    source: Text
    notes: str = ""
    review_due_working_days: Annotated[int, Field(ge=1, le=30)] = Field(
        description="An application is due for decision this many working days after submission")
    review_due_is_example: bool = Field(
        default=False, description="The source documents state no review time for this region: an example")
    channels: Annotated[list[Channel], Field(min_length=1)]
    categories: Annotated[list[Category], Field(min_length=1)]
    physician_titles: list[PhysicianTitle] = Field(
        default=[], description="Lowest to highest; title rules compare positions in this list")
    material_kinds: Annotated[list[MaterialKind], Field(min_length=1)]
    default_materials: list[MaterialRequirement]
    diseases: list[Disease]
    hospitals: list[Hospital]
    change: ChangePolicy | None = Field(default=None, description="None: filings cannot be changed online")
    renewal: RenewalPolicy | None = Field(default=None, description="None: no online renewal")
    contact: Contact = Contact()
    declaration: Declaration | None = Field(default=None, description="None: nothing to confirm at submission")

    # Lookups by code, made on first use and remade when the list is another one (model_copy(update=...)).
    def _index(self, name: str, items: list[Any], key: str) -> dict[str, Any]:
        cached = self.__dict__.get(name)
        if cached is None or cached[0] is not items:
            cached = (items, {getattr(item, key): item for item in items})
            self.__dict__[name] = cached
        index: dict[str, Any] = cached[1]
        return index

    def disease(self, code: str) -> Disease | None:
        found: Disease | None = self._index("_by_disease", self.diseases, "code").get(code)
        return found

    def hospital(self, code: str) -> Hospital | None:
        found: Hospital | None = self._index("_by_hospital", self.hospitals, "code").get(code)
        return found

    def channel(self, code: str) -> Channel | None:
        found: Channel | None = self._index("_by_channel", self.channels, "code").get(code)
        return found

    def material_kind(self, kind: str) -> MaterialKind | None:
        found: MaterialKind | None = self._index("_by_material_kind", self.material_kinds, "kind").get(kind)
        return found

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def materials_for(self, disease: Disease, kind: str = "new") -> list[MaterialRequirement]:
        """The materials an application of `kind` (new, change, renewal) for `disease` needs."""
        if kind == "change" and self.change is not None:
            return list(self.change.materials)
        if kind == "renewal" and self.renewal is not None and self.renewal.materials is not None:
            return list(self.renewal.materials)
        return list(disease.materials if disease.materials is not None else self.default_materials)

    def title_rank(self, code: str) -> int | None:
        codes = [t.code for t in self.physician_titles]
        return codes.index(code) if code in codes else None


def cross_reference_problems(doc: CatalogDocument) -> list[tuple[str, str]]:
    """Checks Pydantic cannot express: unique codes and references between sections."""
    problems: list[tuple[str, str]] = []

    def unique(items: list[str], section: str, field: str) -> None:
        seen: set[str] = set()
        for i, value in enumerate(items):
            if value in seen:
                problems.append((f"{section}[{i}].{field}", f"duplicate {field} {value!r}"))
            seen.add(value)

    unique([c.code for c in doc.channels], "channels", "code")
    unique([c.code for c in doc.categories], "categories", "code")
    unique([t.code for t in doc.physician_titles], "physician_titles", "code")
    unique([m.kind for m in doc.material_kinds], "material_kinds", "kind")
    unique([d.code for d in doc.diseases], "diseases", "code")
    unique([h.code for h in doc.hospitals], "hospitals", "code")
    if not any(c.kind == "window" for c in doc.channels):
        problems.append(("channels", "a region needs its offline window channel (kind: window)"))

    kinds = {m.kind for m in doc.material_kinds}
    titles = {t.code for t in doc.physician_titles}
    categories = {c.code for c in doc.categories}

    def check_materials(reqs: list[MaterialRequirement], path: str) -> None:
        for j, req in enumerate(reqs):
            if req.kind not in kinds:
                problems.append((f"{path}[{j}].kind", f"unknown material kind {req.kind!r}"))
        unique([r.kind for r in reqs], path, "kind")

    check_materials(doc.default_materials, "default_materials")
    if doc.change is not None:
        check_materials(doc.change.materials, "change.materials")
    if doc.renewal is not None and doc.renewal.materials is not None:
        check_materials(doc.renewal.materials, "renewal.materials")
    for i, disease in enumerate(doc.diseases):
        path = f"diseases[{i}]"
        if disease.category not in categories:
            problems.append((f"{path}.category", f"unknown category {disease.category!r}"))
        if disease.materials is not None:
            check_materials(disease.materials, f"{path}.materials")
        if disease.review_period_is_example and disease.review_period_years is None:
            problems.append((f"{path}.review_period_is_example", "marked as example but no period given"))
        for j, rule in enumerate(disease.rules):
            if rule.material not in kinds:
                problems.append((f"{path}.rules[{j}].material", f"unknown material kind {rule.material!r}"))
            if rule.title not in titles:
                problems.append((f"{path}.rules[{j}].title", f"unknown physician title {rule.title!r}"))
        unique([b.insurance_type for b in disease.benefits], f"{path}.benefits", "insurance_type")
        if disease.fast_track and not any(
                (k := doc.material_kind(r.kind)) is not None and k.prereview is not None
                for r in doc.materials_for(disease)):
            problems.append((f"{path}.fast_track", "fast track needs at least one material the pre-review reads"))
    return problems
