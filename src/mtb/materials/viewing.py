"""The one way a person sees a material's content, audited once per view.

Every route that shows a material's content, in whatever form (the API download, the pages' inline
view, the staff viewer's page images, and any added later), opens the file through `open_material`: it
records `material_viewed` in the application's history (who, which material, in what form, which page)
and then opens the file. A view that fails (a missing file) raises after the record, and the request's
rollback takes the record back, so the history holds exactly the views that were served. Only the
machine's own reading (the pre-review's OCR) opens files otherwise (`download.local_copy`).
tests/materials/test_material_views.py checks every route, and that no other module opens a file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.service import record
from mtb.materials.download import open_file, spooled
from mtb.materials.models import Material
from mtb.materials.storage import Opened, Storage

ViewForm = Literal["download", "inline", "page"]


async def open_material(session: AsyncSession, storage: Storage, *, actor: Actor, app: Application,
                        material: Material, form: ViewForm, page: int | None = None) -> Opened:
    """Record the view, then open the file (the caller has checked that `actor` may read `app`)."""
    detail: dict[str, object] = {"material_id": str(material.id), "kind": material.kind, "form": form}
    if page is not None:
        detail["page"] = page
    await record(session, app, "material_viewed", actor=actor, detail=detail)
    return await open_file(storage, material)


@asynccontextmanager
async def viewed_copy(session: AsyncSession, storage: Storage, *, actor: Actor, app: Application,
                      material: Material, form: ViewForm, page: int | None = None) -> AsyncIterator[Path]:
    """`open_material` as a local file, for a view rendered from a path (a PDF page as an image)."""
    opened = await open_material(session, storage, actor=actor, app=app, material=material, form=form, page=page)
    async with spooled(storage, opened) as path:
        yield path
