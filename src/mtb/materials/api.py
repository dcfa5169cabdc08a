"""Material routes: upload, replace, remove, download."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse

from mtb.applications.auth import Reader, Writer
from mtb.applications.schemas import MaterialOut
from mtb.applications.service import get_readable, get_writable
from mtb.applications.views import material_out
from mtb.catalog.service import catalog_by_version_id
from mtb.db.engine import DBSession
from mtb.materials.download import material_response
from mtb.materials.service import (
    add_material,
    check_upload_rate,
    get_material,
    remove_material,
    replace_material,
)
from mtb.materials.storage import Storage
from mtb.materials.viewing import open_material

router = APIRouter(prefix="/api/v1/applications/{application_id}/materials", tags=["materials"])


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def _fields(physician_title: str | None, issuing_hospital: str | None, issue_date: str | None) -> dict[str, str | None]:
    """The form's fields a material may carry (materials/service.py checks them against the catalog)."""
    return {"physician_title": physician_title, "issuing_hospital": issuing_hospital, "issue_date": issue_date}


# `format: binary` beside OpenAPI 3.1's `contentMediaType`: generated clients (openapi-python-client) send
# a file only for the former, and a string otherwise.
UploadedFile = Annotated[UploadFile, File(description="PDF, JPG or PNG", json_schema_extra={"format": "binary"})]


@router.post("", status_code=201, response_model=MaterialOut)
async def upload(application_id: uuid.UUID, request: Request, acting: Writer, session: DBSession,
                 kind: Annotated[str, Form(max_length=64)], file: UploadedFile,
                 physician_title: Annotated[str | None, Form(max_length=64)] = None,
                 issuing_hospital: Annotated[str | None, Form(max_length=200)] = None,
                 issue_date: Annotated[str | None, Form(max_length=32)] = None) -> MaterialOut:
    """Upload one file (PDF, JPG or PNG, judged by content) as a material of `kind`."""
    await check_upload_rate(request.app.state.counters, acting.actor, request.app.state.settings)
    app = await get_writable(session, acting.actor, application_id)
    material = await add_material(
        session, app=app, actor=acting.actor, kind=kind, upload=file,
        fields=_fields(physician_title, issuing_hospital, issue_date), storage=_storage(request),
        settings=request.app.state.settings)
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    return material_out(doc, material)


@router.put("/{material_id}", response_model=MaterialOut)
async def replace(application_id: uuid.UUID, material_id: uuid.UUID, request: Request, acting: Writer,
                  session: DBSession, file: UploadedFile,
                  physician_title: Annotated[str | None, Form(max_length=64)] = None,
                  issuing_hospital: Annotated[str | None, Form(max_length=200)] = None,
                  issue_date: Annotated[str | None, Form(max_length=32)] = None) -> MaterialOut:
    """Replace a material's file (same kind), e.g. after it was marked unclear."""
    await check_upload_rate(request.app.state.counters, acting.actor, request.app.state.settings)
    app = await get_writable(session, acting.actor, application_id)
    material = await replace_material(
        session, app=app, actor=acting.actor, old=await get_material(session, app, material_id), upload=file,
        fields=_fields(physician_title, issuing_hospital, issue_date), storage=_storage(request),
        settings=request.app.state.settings)
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    return material_out(doc, material)


@router.delete("/{material_id}", status_code=204)
async def delete(application_id: uuid.UUID, material_id: uuid.UUID, request: Request, acting: Writer,
                 session: DBSession) -> None:
    app = await get_writable(session, acting.actor, application_id)
    await remove_material(session, app=app, material=await get_material(session, app, material_id))


@router.get("/{material_id}/file", response_class=StreamingResponse,
            responses={200: {"content": {kind: {"schema": {"type": "string", "format": "binary"}}
                                     for kind in ("application/pdf", "image/jpeg", "image/png")}}})
async def download(application_id: uuid.UUID, material_id: uuid.UUID, request: Request, acting: Reader,
                   session: DBSession) -> StreamingResponse:
    app = await get_readable(session, acting.actor, application_id)
    material = await get_material(session, app, material_id)
    opened = await open_material(session, _storage(request), actor=acting.actor, app=app, material=material,
                                 form="download")  # audited (materials/viewing.py)
    return material_response(opened, material, disposition="attachment")
