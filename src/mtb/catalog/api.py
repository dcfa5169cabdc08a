"""Public catalog routes: regions with their channels, diseases with their materials, hospitals."""

from __future__ import annotations

from fastapi import APIRouter

from mtb.catalog.document import CatalogDocument, Disease
from mtb.catalog.schemas import DiseaseOut, HospitalOut, MaterialRequirementOut, RegionChannelOut, RegionOut
from mtb.catalog.service import ActiveCatalog, active_catalog, active_catalogs
from mtb.db import DBSession

router = APIRouter(prefix="/api/v1/regions", tags=["catalog"])


def region_out(active: ActiveCatalog) -> RegionOut:
    doc = active.document
    return RegionOut(
        code=doc.region.code, name=doc.region.name, program=doc.region.program, entry=doc.region.entry,
        catalog_version=active.version, effective_from=active.effective_from,
        channels=[RegionChannelOut(code=c.code, name=c.name, kind=c.kind) for c in doc.channels])


def disease_out(doc: CatalogDocument, disease: Disease) -> DiseaseOut:
    materials: list[MaterialRequirementOut] = []
    for req in doc.materials_for(disease):
        kind = doc.material_kind(req.kind)
        assert kind is not None  # guaranteed by cross_reference_problems at load
        materials.append(MaterialRequirementOut(
            kind=kind.kind, name=kind.name, required=req.required, requirement=kind.requirement,
            generated=kind.generated, requires_seal=kind.requires_seal, fields=[f.name for f in kind.fields]))
    category = doc.category(disease.category)
    return DiseaseOut(
        code=disease.code, name=disease.name, category=disease.category,
        category_name=category.name if category else disease.category, group=disease.group,
        national_codes=disease.national_codes, national_code_status=disease.national_code_status,
        review_period_years=disease.review_period_years,
        review_period_is_example=disease.review_period_is_example, laterality=disease.laterality,
        materials=materials, rules=disease.rules, benefits=disease.benefits, note=disease.note)


@router.get("", response_model=list[RegionOut])
async def list_regions(session: DBSession) -> list[RegionOut]:
    return [region_out(a) for a in await active_catalogs(session)]


@router.get("/{region_code}", response_model=RegionOut)
async def get_region(region_code: str, session: DBSession) -> RegionOut:
    return region_out(await active_catalog(session, region_code))


@router.get("/{region_code}/diseases", response_model=list[DiseaseOut])
async def list_diseases(region_code: str, session: DBSession) -> list[DiseaseOut]:
    doc = (await active_catalog(session, region_code)).document
    return [disease_out(doc, d) for d in doc.diseases]


@router.get("/{region_code}/hospitals", response_model=list[HospitalOut])
async def list_hospitals(region_code: str, session: DBSession) -> list[HospitalOut]:
    doc = (await active_catalog(session, region_code)).document
    return [HospitalOut(code=h.code, name=h.name, level=h.level, is_example=h.is_example)
            for h in doc.hospitals]
