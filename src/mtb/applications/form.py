"""Filling the application form from an application (the PDF itself is drawn in materials/form.py)."""

from __future__ import annotations

import anyio
from fastapi import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.schemas import RELATION_LABELS
from mtb.applications.service import record
from mtb.applications.states import LABELS, Status
from mtb.applications.views import submitted_by
from mtb.catalog.service import catalog_by_version_id
from mtb.identity import idnumber
from mtb.identity.models import InsuredPerson
from mtb.materials.form import FormData, render_form
from mtb.materials.models import Material
from mtb.timeutil import local_date

INSURANCE_LABELS = {"employee": "职工基本医疗保险", "resident": "城乡居民基本医疗保险"}


def mask_card(card: str) -> str:
    return card[:2] + "*" * max(len(card) - 6, 0) + card[-4:] if len(card) > 6 else "*" * len(card)


async def form_pdf(session: AsyncSession, app: Application, *, viewer: Actor) -> bytes:
    """The filled form, as `viewer` asked for it. A staff member's view is audited, and committed before
    the drawing starts: the drawing runs in a worker thread (the first one of a process subsets the CJK
    font, which takes seconds), and no database transaction, least of all SQLite's one write lock, may be
    held open across it."""
    data = await _form_data(session, app)
    if viewer.kind == "staff":
        await record(session, app, "form_viewed", actor=viewer)
    await session.commit()
    return await anyio.to_thread.run_sync(render_form, data)


def form_response(app: Application, pdf: bytes) -> Response:
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="mtb-form-{app.id}.pdf"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


async def _form_data(session: AsyncSession, app: Application) -> FormData:
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    person = await session.get(InsuredPerson, app.beneficiary_id)
    assert person is not None
    number = idnumber.decrypt(person.id_number_enc)
    disease = doc.disease(app.disease_code)
    category = doc.category(disease.category) if disease else None
    hospital = doc.hospital(app.hospital_code)
    channel = doc.channel(app.channel)
    laterality = None
    if disease and disease.laterality and app.laterality:
        laterality = next((o.name for o in disease.laterality if o.code == app.laterality), app.laterality)
    uploaded = list((await session.execute(
        select(Material.kind, Material.file_name).where(Material.application_id == app.id)
        .order_by(Material.created_at))).all())
    materials: list[tuple[str, str]] = []
    if disease:
        for req in doc.materials_for(disease, app.kind):
            kind = doc.material_kind(req.kind)
            assert kind is not None
            files = [f for k, f in uploaded if k == kind.kind]
            state = "系统生成（本表）" if kind.generated else (f"{len(files)} 个文件" if files else "未上传")
            materials.append((kind.name, state))
    return FormData(
        region_code=app.region_code,
        title=doc.region.form_title,
        application_id=str(app.id), case_number=app.case_number, name=person.name,
        sex="男" if int(number[16]) % 2 else "女", birth_date=person.birth_date,
        id_number_masked=person.id_number_masked, card_number_masked=mask_card(person.card_number),
        insurance_type=INSURANCE_LABELS.get(person.insurance_type, person.insurance_type),
        insured_region=idnumber.region_name(person.region_code) or person.region_code,
        disease=disease.name if disease else app.disease_code, category=category.name if category else "",
        hospital=hospital.name if hospital else app.hospital_code, laterality=laterality,
        channel=channel.name if channel else app.channel, applicant=await submitted_by(session, app),
        relation=RELATION_LABELS.get(app.relation, app.relation), status=LABELS[Status(app.status)],
        created=local_date(app.created_at), submitted=local_date(app.submitted_at) if app.submitted_at else None,
        materials=materials, physician_section=doc.region.form_signed_by_physician,
        declaration="本人承诺所提供的信息和材料真实、有效、完整，如有虚假，愿承担相应责任。")
