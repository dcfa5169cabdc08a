"""The application page and its actions, shared by the applicant's pages and the window clerk's."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from mtb.applications.actors import Actor
from mtb.applications.form import form_pdf, form_response
from mtb.applications.schemas import ApplicationOut
from mtb.applications.service import get_readable, get_writable, withdraw
from mtb.applications.submission import submit_once
from mtb.applications.views import application_out
from mtb.catalog.service import catalog_by_version_id
from mtb.errors import MTBError, Unprocessable
from mtb.materials.download import material_response
from mtb.materials.service import (
    add_material,
    check_upload_rate,
    get_material,
    remove_material,
    replace_material,
)
from mtb.materials.viewing import open_material
from mtb.web.core import redirect, render, verify_csrf


def applicant_line(app: ApplicationOut, reader: str) -> str:
    """Who applied, worded from the reader's side (the relation is stored one way: the beneficiary is the
    agent's `relation`): the agent reads "您（为您的父母代办）", the beneficiary "代办人 钱七（您的子女）",
    staff "代办人 钱七（参保人的子女）"."""
    if app.agent_relation_label is None:
        return app.submitted_by
    if reader == "agent":
        return f"您（为您的{app.relation_label}代办）"
    side = "您的" if reader == "beneficiary" else "参保人的"
    return f"{app.submitted_by}（{side}{app.agent_relation_label}）"


async def _context(request: Request, session: AsyncSession, actor: Actor, app_id: uuid.UUID, *,
                   base: str) -> dict[str, Any]:
    """What the application page and its material fragments are drawn from."""
    app = await get_readable(session, actor, app_id)
    out = await application_out(session, app)
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    by_kind: dict[str, list[Any]] = {}
    for m in out.materials:
        by_kind.setdefault(m.kind, []).append(m)
    title_kinds = {k.kind for k in doc.material_kinds if any(f.name == "physician_title" for f in k.fields)}
    # Who is reading, for wording the agent's relation from their side (applications/relation.py).
    reader = "staff" if actor.kind == "staff" else (
        "beneficiary" if app.beneficiary_id == actor.id else "agent")
    return {"app": out, "base": base, "checklist": out.checklist, "materials_by_kind": by_kind,
            "title_kinds": title_kinds, "titles": doc.physician_titles,
            "title_names": {t.code: t.name for t in doc.physician_titles},
            "applicant_line": applicant_line(out, reader),
            "editable": out.status in ("draft", "returned"),
            "max_upload_bytes": request.app.state.settings.max_upload_bytes,
            "review_days": doc.review_due_working_days, "review_is_example": doc.review_due_is_example,
            "date_kinds": {k.kind: next(f.label for f in k.fields if f.name == "issue_date")
                           for k in doc.material_kinds if any(f.name == "issue_date" for f in k.fields)},
            "how_to": {k.kind: k.how_to for k in doc.material_kinds if k.how_to}, "declaration": doc.declaration,
            "tz": ZoneInfo(request.app.state.settings.timezone)}


async def show(request: Request, session: AsyncSession, actor: Actor, app_id: uuid.UUID, *, base: str, home: str,
               error: str | None = None, status_code: int = 200, batch: bool = False) -> Response:
    """The application page; `batch` adds the window clerk's form for all the scans at once."""
    context = await _context(request, session, actor, app_id, base=base)
    return render(request, "application.html", status_code=status_code, home=home, idem_key=uuid.uuid4().hex,
                  error=error, batch=batch, **context)


async def submitted_page(request: Request, session: AsyncSession, actor: Actor, app_id: uuid.UUID, *,
                         base: str) -> Response:
    """提交成功: the case number to read out on the phone, when to expect the decision, where to look."""
    context = await _context(request, session, actor, app_id, base=base)
    if context["app"].status not in ("submitted", "in_review"):
        return redirect(f"{base}/{app_id}")
    return render(request, "submitted.html", **context)


def _done(request: Request, location: str, anchor: str) -> Response:
    """An upload sent by the page script gets JSON (it reloads the page); a plain form gets a redirect."""
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JSONResponse({"redirect": location})
    return redirect(f"{location}#{anchor}")


async def upload(request: Request, session: AsyncSession, actor: Actor, app_id: uuid.UUID, *, base: str) -> Response:
    """Add a file to a material; with `replace`, the file it replaces goes in the same transaction (one step
    for a person told to upload a clearer copy). The page script gets the material's part of the page
    back, drawn anew; a plain form gets a redirect to the page."""
    await verify_csrf(request)
    await check_upload_rate(request.app.state.counters, actor, request.app.state.settings)
    app = await get_writable(session, actor, app_id)
    form = await request.form()
    upload_file, kind, replace = form.get("file"), form.get("kind"), form.get("replace")
    if not isinstance(upload_file, UploadFile) or not isinstance(kind, str):
        raise Unprocessable("file_required", "请选择要上传的文件")
    replaced = None
    if isinstance(replace, str) and replace:
        try:
            replaced = await get_material(session, app, uuid.UUID(replace))
        except ValueError as exc:
            raise Unprocessable("material_not_found", "要替换的文件不存在，请刷新页面") from exc
    title, issued = form.get("physician_title"), form.get("issue_date")
    fields = {"physician_title": title if isinstance(title, str) else None,
              "issue_date": issued if isinstance(issued, str) else None}
    storage, settings = request.app.state.storage, request.app.state.settings
    if replaced is None:
        await add_material(session, app=app, actor=actor, kind=kind, upload=upload_file, fields=fields,
                           storage=storage, settings=settings)
    else:
        kind = replaced.kind  # a replacement keeps its material's kind, as on the API
        await replace_material(session, app=app, actor=actor, old=replaced, upload=upload_file, fields=fields,
                               storage=storage, settings=settings)
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        context = await _context(request, session, actor, app_id, base=base)
        item = next((i for i in context["checklist"] if i.kind == kind), None)
        if item is not None:
            return render(request, "material_item.html", item=item, **context)
    return _done(request, f"{base}/{app_id}", f"kind-{kind}")


async def upload_batch(request: Request, session: AsyncSession, actor: Actor, app_id: uuid.UUID, *, base: str,
                       home: str) -> Response:
    """Several files at once, each under its kind (`files_<kind>`, several per kind), and with
    `then=submit` the submission too, all in one request and one transaction: a refusal keeps none of
    them (the files already stored are removed by the jobs after the grace period, as for any refused
    upload) and says which file and why on the page. The page script sends the files one by one
    instead (each its own progress bar, no request larger than one file) and then submits."""
    await verify_csrf(request)
    app = await get_writable(session, actor, app_id)
    form = await request.form()
    chosen = [(key.removeprefix("files_"), value) for key, value in form.multi_items()
              if key.startswith("files_") and isinstance(value, UploadFile) and value.filename]
    settings = request.app.state.settings
    try:
        if not chosen and form.get("then") != "submit":
            raise Unprocessable("file_required", "请选择要上传的文件")
        for _ in chosen:  # every count before the first write (the counter has its own transaction)
            await check_upload_rate(request.app.state.counters, actor, settings)
        for kind, upload_file in chosen:
            title = form.get(f"title_{kind}")
            try:
                await add_material(session, app=app, actor=actor, kind=kind, upload=upload_file,
                                   fields={"physician_title": title if isinstance(title, str) and title else None},
                                   storage=request.app.state.storage, settings=settings)
            except MTBError as exc:
                exc.detail = f"{upload_file.filename}：{exc.detail}"  # which of the chosen files
                raise
        if form.get("then") == "submit":
            confirmed, key = form.get("declaration_version"), form.get("idempotency_key")
            await submit_once(session, app, actor=actor, calendar=request.app.state.calendar,
                              key=key if isinstance(key, str) and 0 < len(key) <= 128 else None,
                              declaration_version=confirmed if isinstance(confirmed, str) else None,
                              sessionmaker=request.app.state.sessionmaker)
    except MTBError as exc:
        await session.rollback()
        return await show(request, session, actor, app_id, base=base, home=home, error=exc.detail,
                          status_code=exc.status_code, batch=True)
    return redirect(f"{base}/{app_id}")


async def delete(request: Request, session: AsyncSession, actor: Actor, app_id: uuid.UUID, material_id: uuid.UUID,
                 *, base: str) -> Response:
    await verify_csrf(request)
    app = await get_writable(session, actor, app_id)
    await remove_material(session, app=app, material=await get_material(session, app, material_id))
    return redirect(f"{base}/{app_id}#materials")


async def submit_page(request: Request, session: AsyncSession, actor: Actor, app_id: uuid.UUID, *, base: str,
                      home: str) -> Response:
    """Submit from the page; a refusal (e.g. missing materials) is shown on the application page."""
    await verify_csrf(request)
    form = await request.form()
    key, confirmed = form.get("idempotency_key"), form.get("declaration_version")
    key = key if isinstance(key, str) and 0 < len(key) <= 128 else None
    app = await get_writable(session, actor, app_id)
    done = f"{base}/{app_id}/submitted" if actor.kind == "person" else f"{base}/{app_id}"
    try:
        await submit_once(session, app, actor=actor, calendar=request.app.state.calendar, key=key,
                          declaration_version=confirmed if isinstance(confirmed, str) else None,
                          sessionmaker=request.app.state.sessionmaker)
    except MTBError as exc:
        await session.rollback()  # `show` reloads everything it needs
        return await show(request, session, actor, app_id, base=base, home=home, error=exc.detail,
                          status_code=exc.status_code)
    return redirect(done)


async def withdraw_page(request: Request, session: AsyncSession, actor: Actor, app_id: uuid.UUID, *,
                        base: str) -> Response:
    await verify_csrf(request)
    app = await get_writable(session, actor, app_id)
    await withdraw(session, app, actor=actor, reason="申请人在页面上撤回" if actor.kind == "person" else "窗口撤回")
    return redirect(f"{base}/{app_id}")


async def material_file(request: Request, session: AsyncSession, actor: Actor, app_id: uuid.UUID,
                        material_id: uuid.UUID) -> StreamingResponse:
    app = await get_readable(session, actor, app_id)
    material = await get_material(session, app, material_id)
    opened = await open_material(session, request.app.state.storage, actor=actor, app=app, material=material,
                                 form="inline")  # audited (materials/viewing.py)
    return material_response(opened, material, disposition="inline")


async def form_page(session: AsyncSession, actor: Actor, app_id: uuid.UUID) -> Response:
    app = await get_readable(session, actor, app_id)
    return form_response(app, await form_pdf(session, app, viewer=actor))
