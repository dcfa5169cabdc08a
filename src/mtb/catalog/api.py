"""Public catalog routes: regions with everything a client sends or shows (channels, physician titles,
material kinds and their fields, relations, contact, reason codes), diseases with their materials,
hospitals."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mtb.applications.schemas import RELATION_LABELS, Relation
from mtb.catalog.allowed import field_format, field_options
from mtb.catalog.document import CatalogDocument, Disease, MaterialKind
from mtb.catalog.schemas import (
    CodeNameOut,
    ContactOut,
    DiseaseOut,
    HospitalOut,
    MaterialFieldOut,
    MaterialKindOut,
    MaterialRequirementOut,
    PhysicianTitleOut,
    RegionChannelOut,
    RegionOut,
)
from mtb.catalog.service import ActiveCatalog, active_catalog, active_catalogs
from mtb.db.engine import DBSession
from mtb.review.reasons import ReasonList
from mtb.review.schemas import ReasonCodeOut

router = APIRouter(prefix="/api/v1/regions", tags=["catalog"])


def field_specs(doc: CatalogDocument, kind: MaterialKind) -> list[MaterialFieldOut]:
    out = []
    for f in kind.fields:
        options = field_options(doc, f)
        out.append(MaterialFieldOut(
            name=f.name, label=f.label, required=f.required, format=field_format(f),
            allowed=[CodeNameOut(code=c, name=n) for c, n in options] if options is not None else None))
    return out


def region_out(active: ActiveCatalog, reasons: ReasonList) -> RegionOut:
    doc = active.document
    return RegionOut(
        code=doc.region.code, name=doc.region.name, program=doc.region.program, entry=doc.region.entry,
        catalog_version=active.version, effective_from=active.effective_from,
        channels=[RegionChannelOut(code=c.code, name=c.name, kind=c.kind, note=c.note) for c in doc.channels],
        physician_titles=[PhysicianTitleOut(code=t.code, name=t.name, rank=i)
                          for i, t in enumerate(doc.physician_titles)],
        material_kinds=[MaterialKindOut(kind=k.kind, name=k.name, requirement=k.requirement, generated=k.generated,
                                        requires_seal=k.requires_seal, fields=field_specs(doc, k),
                                        max_age_days=k.max_age_days, max_age_is_example=k.max_age_is_example,
                                        how_to=k.how_to)
                        for k in doc.material_kinds],
        relations=[CodeNameOut(code=r.value, name=RELATION_LABELS[r.value]) for r in Relation],
        contact=ContactOut(window_address=doc.contact.window_address, window_hours=doc.contact.window_hours,
                           hotline=doc.contact.hotline),
        declaration=doc.declaration,
        reason_codes=[ReasonCodeOut(code=r.code, name=r.name, needs_detail=r.needs_detail) for r in reasons.reasons])


def disease_out(doc: CatalogDocument, disease: Disease) -> DiseaseOut:
    materials: list[MaterialRequirementOut] = []
    for req in doc.materials_for(disease):
        kind = doc.material_kind(req.kind)
        assert kind is not None  # guaranteed by cross_reference_problems at load
        materials.append(MaterialRequirementOut(
            kind=kind.kind, name=kind.name, required=req.required, requirement=kind.requirement,
            generated=kind.generated, requires_seal=kind.requires_seal, fields=[f.name for f in kind.fields],
            field_specs=field_specs(doc, kind)))
    category = doc.category(disease.category)
    return DiseaseOut(
        code=disease.code, name=disease.name, category=disease.category,
        category_name=category.name if category else disease.category, group=disease.group,
        national_codes=disease.national_codes, national_code_status=disease.national_code_status,
        review_period_years=disease.review_period_years,
        review_period_is_example=disease.review_period_is_example, laterality=disease.laterality,
        materials=materials, rules=disease.rules, benefits=disease.benefits, note=disease.note)


@router.get("", response_model=list[RegionOut])
async def list_regions(session: DBSession, request: Request) -> list[RegionOut]:
    return [region_out(a, request.app.state.reasons) for a in await active_catalogs(session)]


@router.get("/{region_code}", response_model=RegionOut)
async def get_region(region_code: str, session: DBSession, request: Request) -> RegionOut:
    return region_out(await active_catalog(session, region_code), request.app.state.reasons)


@router.get("/{region_code}/diseases", response_model=list[DiseaseOut])
async def list_diseases(region_code: str, session: DBSession) -> list[DiseaseOut]:
    doc = (await active_catalog(session, region_code)).document
    return [disease_out(doc, d) for d in doc.diseases]


@router.get("/{region_code}/hospitals", response_model=list[HospitalOut])
async def list_hospitals(region_code: str, session: DBSession) -> list[HospitalOut]:
    doc = (await active_catalog(session, region_code)).document
    return [HospitalOut(code=h.code, name=h.name, level=h.level, is_example=h.is_example)
            for h in doc.hospitals]
