"""Adding, replacing and removing an application's materials.

Steps of an upload: spool to a temporary file (size limit), judge the content, check the kind and its
fields against the catalog, put the file at its content address (directory or bucket), add the row.
Files are never deleted here (see storage.py); removing a material removes its row.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import date

import anyio
from fastapi import UploadFile
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.actors import Actor
from mtb.applications.models import Application
from mtb.applications.service import ensure_editable, update_guarded
from mtb.applications.states import EDITABLE
from mtb.catalog.allowed import allowed_extra, spelled, title_options, uploadable
from mtb.catalog.document import CatalogDocument
from mtb.catalog.service import catalog_by_version_id
from mtb.errors import Conflict, NotFound, Unprocessable
from mtb.identity.throttle import count_within
from mtb.materials.inspect import inspect_file
from mtb.materials.models import Material
from mtb.materials.storage import Storage
from mtb.prereview.service import enqueue as enqueue_prereview
from mtb.settings import Settings
from mtb.timeutil import local_today, utcnow

_UNSAFE = re.compile(r"[^\w.\-()（）\u4e00-\u9fff]+")


def safe_file_name(raw: str | None, extension: str) -> str:
    """A display name without paths, control characters or odd bytes, at most 100 characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    stem = _UNSAFE.sub("_", name.rsplit(".", 1)[0]).strip("._") or "material"
    return f"{stem[:90]}.{extension}"


async def _checked_fields(session: AsyncSession, app: Application, kind: str,
                          fields: dict[str, str | None]) -> dict[str, str]:
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    disease = doc.disease(app.disease_code)
    assert disease is not None
    allowed = {r.kind for r in doc.materials_for(disease, app.kind)}
    material_kind = doc.material_kind(kind)
    if material_kind is None or kind not in allowed:
        kinds = [(k.kind, k.name) for k in uploadable(doc, allowed)]
        raise Unprocessable("material_kind_unknown",
                            f"此申请不需要这种材料，kind 可为：{spelled(kinds)}" if kinds else "此申请无需上传材料",
                            extra=allowed_extra(kinds))
    if material_kind.generated:
        raise Unprocessable("material_generated", f"{material_kind.name}由系统生成，无需上传")
    # A disease rule on the issuing physician's title makes the title required (multiple sclerosis: 副主任医师).
    title_rules = [r for r in disease.rules if r.type == "min_physician_title" and r.material == kind]
    out: dict[str, str] = {}
    for spec in material_kind.fields:
        value = (fields.get(spec.name) or "").strip()
        if not value:
            if spec.name == "physician_title" and title_rules:
                needed = next((t.name for t in doc.physician_titles if t.code == title_rules[0].title), "")
                raise Unprocessable(
                    "physician_title_required",
                    f"{disease.name}的{material_kind.name}需由{needed}及以上人员出具，请填写{spec.label}"
                    f"（physician_title 可为：{spelled(title_options(doc))}）",
                    extra=allowed_extra(title_options(doc)))
            if spec.required:
                raise Unprocessable("material_field_required", f"请填写{spec.label}")
            continue
        if spec.name == "physician_title" and doc.title_rank(value) is None:
            raise Unprocessable("physician_title_invalid",
                                f"{spec.label}（physician_title）应为：{spelled(title_options(doc))}",
                                extra=allowed_extra(title_options(doc)))
        if spec.name == "issue_date":
            value = _issue_date(value, spec.label).isoformat()
        out[spec.name] = value
    return out


def _issue_date(value: str, label: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise Unprocessable("issue_date_invalid", f"{label}（issue_date）请写成 YYYY-MM-DD，如 2026-11-30") from exc
    if day > local_today():
        raise Unprocessable("issue_date_invalid", f"{label}不能晚于今天")
    return day


def age_warnings(doc: CatalogDocument, kind: str, fields: dict[str, str]) -> list[dict[str, str]]:
    """A report older than its kind's maximum age (Hubei: "上传近期内能支持诊断的关键报告"): a warning the
    applicant sees before submitting, not a refusal; marked "示例" where the age is an example value."""
    material_kind = doc.material_kind(kind)
    issued = fields.get("issue_date")
    if material_kind is None or material_kind.max_age_days is None or not issued:
        return []
    age = (local_today() - date.fromisoformat(issued)).days
    if age <= material_kind.max_age_days:
        return []
    example = "（时效为示例值，以经办机构要求为准）" if material_kind.max_age_is_example else ""
    return [{"code": "material_too_old",
             "message": f"{material_kind.name}出具于 {issued}，已超过 {material_kind.max_age_days} 天{example}，"
                        "请确认是否为近期报告，必要时更换为近期报告"}]


async def add_material(session: AsyncSession, *, app: Application, actor: Actor, kind: str,
                       upload: UploadFile, fields: dict[str, str | None], storage: Storage,
                       settings: Settings, replacing: Material | None = None) -> Material:
    """Checks that only read come first, then the file (spool, inspect, store), and only then the writes:
    the application row is held (and on SQLite the database's one writer) for the inserts alone, not
    while a file is copied and parsed. `replacing`: a material that goes in the same transaction
    (`replace_material`), not counted against the limit of files."""
    ensure_editable(app)
    checked = await _checked_fields(session, app, kind, fields)
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    leaving = 0 if replacing is None else 1
    await _check_file_count(session, app, settings, leaving)  # before the file: a full application stores nothing
    received = await storage.receive(upload, limit=settings.max_upload_bytes)
    try:
        inspection = await anyio.to_thread.run_sync(inspect_file, received.path, settings)
    except BaseException:
        received.path.unlink(missing_ok=True)
        raise
    # Stored before the row is written: a refusal from here on leaves a file no row refers to, which the
    # jobs remove after the grace period (storage.py), never a row without its file.
    await anyio.to_thread.run_sync(storage.put, received)
    await _hold_editable(session, app)
    await _check_file_count(session, app, settings, leaving)  # again under the hold: uploads racing each other
    material = Material(
        application_id=app.id, kind=kind, sha256=received.sha256, size=received.size,
        content_type=inspection.content_type, file_name=safe_file_name(upload.filename, inspection.extension),
        pages=inspection.pages, width=inspection.width, height=inspection.height,
        warnings=inspection.warnings + age_warnings(doc, kind, checked), fields=checked, uploaded_by_kind=actor.kind,
        uploaded_by_id=actor.id, created_at=utcnow())
    session.add(material)
    await session.flush()
    await enqueue_prereview(session, material, app)  # read later by the pre-review job, never here
    return material


async def replace_material(session: AsyncSession, *, app: Application, actor: Actor, old: Material,
                           upload: UploadFile, fields: dict[str, str | None], storage: Storage,
                           settings: Settings) -> Material:
    """A new file for a material (e.g. after it was marked unclear): the same kind, and the file it replaces
    goes in the same transaction (one step for a person told to upload a clearer copy)."""
    material = await add_material(session, app=app, actor=actor, kind=old.kind, upload=upload, fields=fields,
                                  storage=storage, settings=settings, replacing=old)
    await remove_material(session, app=app, material=old)
    return material


async def _check_file_count(session: AsyncSession, app: Application, settings: Settings, leaving: int = 0) -> None:
    count = (await session.execute(
        select(func.count()).select_from(Material).where(Material.application_id == app.id))).scalar_one()
    if count - leaving >= settings.max_files_per_application:
        raise Unprocessable("too_many_files",
                            f"每个申请最多上传 {settings.max_files_per_application} 个文件，请删除多余的文件")


async def get_material(session: AsyncSession, app: Application, material_id: uuid.UUID) -> Material:
    material = (await session.execute(select(Material).where(
        Material.id == material_id, Material.application_id == app.id))).scalar_one_or_none()
    if material is None:
        raise NotFound("material_not_found", "材料不存在")
    return material


async def remove_material(session: AsyncSession, *, app: Application, material: Material) -> None:
    """Remove a material; the version bump makes a submission racing with it fail (409), so nothing is
    submitted without a material it counted."""
    ensure_editable(app)
    await update_guarded(session, app)
    await session.delete(material)
    await session.flush()


async def check_upload_rate(sessionmaker: async_sessionmaker[AsyncSession], actor: Actor, settings: Settings) -> None:
    """At most `uploads_per_minute` per person or clerk. Call it before the request writes anything: the
    counter has its own transaction, and on SQLite a second writer would wait for the first."""
    await count_within(sessionmaker, f"upload:{actor.id}", limit=settings.uploads_per_minute, window_seconds=60,
                       code="too_many_uploads", detail="上传过于频繁，请稍后再试")


async def _hold_editable(session: AsyncSession, app: Application) -> None:
    """Lock the application row while it is still editable: a submission waits for this upload, and an
    upload after a submission is refused. (Uploads do not bump the version, so several can run at once.)"""
    result = await session.execute(
        update(Application).where(Application.id == app.id, Application.status.in_([s.value for s in EDITABLE]))
        .values(updated_at=utcnow()).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("application_not_editable", "申请已提交或已处理，不能再修改材料")

