"""The pre-review job: read each new material of a kind the catalog marks, record the findings.

An upload adds a `pending` row in its own transaction (`enqueue`); the request never reads the file.
Rows are then taken by `run_pending`, from the in-process worker (woken after an upload or a
submission commits) and from every `mtb jobs run`. Steps for one row:
1. claim it: a conditional UPDATE pending → running (SKIP LOCKED on PostgreSQL), so one worker has it;
   a row left running by a crashed worker is taken again after `STALE_MINUTES`;
2. read it, unless the same file was read for the same application and kind already (then the fields
   are reused): OCR in a worker thread, one page at a time and one material at a time per process;
3. compare with the application and the catalog, store fields and findings (done), guarded by the
   claim; an unreadable photo gets the warning the applicant sees at once;
4. try the fast track for the application (fasttrack.py).
Without the `ocr` extra, rows become `unavailable` and are read once an engine is installed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mtb.applications.models import Application
from mtb.catalog.service import catalog_by_version_id
from mtb.identity import idnumber
from mtb.identity.models import InsuredPerson
from mtb.materials.download import local_copy
from mtb.materials.models import Material
from mtb.materials.stores import make_storage
from mtb.prereview.compare import Applicant, Context, compare, shown
from mtb.prereview.extract import extract
from mtb.prereview.fasttrack import offer, sweep
from mtb.prereview.models import MaterialPrereview, PrereviewStatus
from mtb.prereview.ocr import OcrEngine, OcrLine, load_engine, page_images
from mtb.prereview.schemas import (
    OUTCOME_LABELS,
    STATUS_LABELS,
    FindingOut,
    MaterialPrereviewOut,
    PrereviewOut,
)
from mtb.prereview.seal import seal_state
from mtb.settings import Settings
from mtb.timeutil import local_today, utcnow
from mtb.wake import prereview as prereview_wake

log = logging.getLogger("mtb.prereview")
STALE_MINUTES = 15
MAX_ATTEMPTS = 3
UNREADABLE = {"code": "prereview_unreadable", "message": "无法识别，请重新拍摄"}
# Pages of one PDF are stacked this far apart, so that rows never join across pages.
PAGE_GAP = 100_000.0
_ONE_AT_A_TIME = threading.Lock()  # OCR is CPU-heavy: one material per process


def ocr_installed() -> bool:
    return find_spec("rapidocr") is not None and find_spec("onnxruntime") is not None


async def enqueue(session: AsyncSession, material: Material, app: Application) -> None:
    """Queue the pre-review of a material just added, if its kind is one the pre-review reads."""
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    kind = doc.material_kind(material.kind)
    if kind is None or kind.prereview is None:
        return
    session.add(MaterialPrereview(material_id=material.id, application_id=app.id, kind=material.kind,
                                  sha256=material.sha256, status=PrereviewStatus.pending.value, attempts=0,
                                  created_at=utcnow()))
    await session.flush()
    prereview_wake.kick_after_commit(session)


async def _claim(sessionmaker: async_sessionmaker[AsyncSession], *, with_unavailable: bool,
                 skip: set[uuid.UUID]) -> MaterialPrereview | None:
    now = utcnow()
    statuses = [PrereviewStatus.pending.value]
    if with_unavailable:
        statuses.append(PrereviewStatus.unavailable.value)
    claimable = or_(MaterialPrereview.status.in_(statuses),
                    (MaterialPrereview.status == PrereviewStatus.running.value)
                    & (MaterialPrereview.claimed_at < now - timedelta(minutes=STALE_MINUTES)))
    async with sessionmaker() as session, session.begin():
        rows = list((await session.execute(
            select(MaterialPrereview).where(claimable, MaterialPrereview.id.not_in(skip))
            .order_by(MaterialPrereview.created_at).limit(5).with_for_update(skip_locked=True))).scalars())
        for row in rows:
            result = await session.execute(
                update(MaterialPrereview).where(MaterialPrereview.id == row.id,
                                                MaterialPrereview.status == row.status,
                                                MaterialPrereview.attempts == row.attempts)
                .values(status=PrereviewStatus.running.value, claimed_at=now, attempts=row.attempts + 1)
                .execution_options(synchronize_session=False))
            if result.rowcount == 1:  # type: ignore[attr-defined]
                await session.refresh(row)
                return row
    return None


def _read(engine: OcrEngine, path: Path, content_type: str, pages: int | None,
          document: str, titles: dict[str, str]) -> tuple[dict[str, str], bool, float]:
    """OCR, fields and seal of one file (in a worker thread). Returns fields, readable, seconds."""
    with _ONE_AT_A_TIME:
        start = time.perf_counter()
        lines: list[OcrLine] = []
        seals = []
        for n, page in enumerate(page_images(path, content_type, pages)):
            offset = n * PAGE_GAP
            lines += [OcrLine(ln.text, ln.score,
                              (ln.box[0], ln.box[1] + offset, ln.box[2], ln.box[3] + offset))
                      for ln in engine.read(page)]
            if document == "diagnosis_certificate":
                seals.append(seal_state(page))
        found = extract(lines, document, titles=titles)
        values = dict(found.values)
        if seals:
            values["seal"] = "present" if "present" in seals else "absent" if "absent" in seals else "unknown"
        return values, found.readable, time.perf_counter() - start


def stored_fields(values: dict[str, str], *, data_key: str | None = None) -> dict[str, str]:
    """The fields as kept: a full ID number only as its keyed hash (as the registry keeps it) and masked."""
    out = {k: v for k, v in values.items() if k != "id_number"}
    number = values.get("id_number")
    if number is not None and values.get("id_number_state") == "valid":
        out["id_number_hash"] = idnumber.lookup_hash(number, data_key=data_key)
        out["id_number_masked"] = idnumber.mask(number)
    elif number is not None and values.get("id_number_state") == "masked":
        out["id_number_masked"] = number
    return out


async def context_for(session: AsyncSession, app: Application, material: Material) -> Context:
    doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    disease, kind = doc.disease(app.disease_code), doc.material_kind(material.kind)
    person = await session.get(InsuredPerson, app.beneficiary_id)
    assert disease is not None and kind is not None and person is not None
    number = idnumber.decrypt(person.id_number_enc)  # only for the sex it encodes; not kept
    applicant = Applicant(name=person.name, id_number_hash=person.id_number_hash,
                          id_number_masked=person.id_number_masked, sex="男" if int(number[16]) % 2 else "女",
                          birth_date=person.birth_date)
    return Context(applicant=applicant, doc=doc, disease=disease, hospital_code=app.hospital_code, kind=kind,
                   declared={k: str(v) for k, v in (material.fields or {}).items()}, today=local_today())


async def _finish(session: AsyncSession, row: MaterialPrereview, values: dict[str, Any], *, readable: bool,
                  engine: str, seconds: float | None) -> bool:
    """Store the outcome if this worker still holds the claim; warn the applicant of an unreadable photo."""
    material = await session.get(Material, row.material_id) if row.material_id else None
    app = await session.get(Application, row.application_id)
    if material is None or app is None:
        return False
    findings = compare(values, readable=readable, ctx=await context_for(session, app, material))
    result = await session.execute(
        update(MaterialPrereview).where(MaterialPrereview.id == row.id,
                                        MaterialPrereview.status == PrereviewStatus.running.value,
                                        MaterialPrereview.attempts == row.attempts)
        .values(status=PrereviewStatus.done.value, engine=engine, readable=readable, extracted=values,
                findings=[f.to_json() for f in findings], seconds=seconds, finished_at=utcnow())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    warnings = [w for w in (material.warnings or []) if w.get("code") != UNREADABLE["code"]]
    if not readable:
        warnings.append(UNREADABLE)
    if warnings != (material.warnings or []):
        await session.execute(update(Material).where(Material.id == material.id).values(warnings=warnings)
                              .execution_options(synchronize_session=False))
    return True


async def _set_status(sessionmaker: async_sessionmaker[AsyncSession], row: MaterialPrereview,
                      status: PrereviewStatus) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(MaterialPrereview).where(MaterialPrereview.id == row.id,
                                            MaterialPrereview.status == PrereviewStatus.running.value,
                                            MaterialPrereview.attempts == row.attempts)
            .values(status=status.value, finished_at=utcnow() if status != PrereviewStatus.pending else None)
            .execution_options(synchronize_session=False))


async def _reused(session: AsyncSession, row: MaterialPrereview) -> MaterialPrereview | None:
    return (await session.execute(select(MaterialPrereview).where(
        MaterialPrereview.application_id == row.application_id, MaterialPrereview.sha256 == row.sha256,
        MaterialPrereview.kind == row.kind, MaterialPrereview.status == PrereviewStatus.done.value,
        MaterialPrereview.id != row.id).limit(1))).scalar_one_or_none()


async def process(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, row: MaterialPrereview,
                  engine: OcrEngine) -> bool:
    """Steps 2 and 3 of the module docstring for a claimed row; True when findings were stored."""
    if not engine.available:
        await _set_status(sessionmaker, row, PrereviewStatus.unavailable)
        return False
    async with sessionmaker() as session:  # closed before the OCR: no transaction held meanwhile
        earlier = await _reused(session, row)
        material = await session.get(Material, row.material_id) if row.material_id else None
        app = await session.get(Application, row.application_id)
        if material is None or app is None:  # removed meanwhile: nothing to read
            await session.execute(delete(MaterialPrereview).where(MaterialPrereview.id == row.id))
            await session.commit()
            return False
        doc = (await catalog_by_version_id(session, app.catalog_version_id)).document
    kind, titles = doc.material_kind(material.kind), {t.code: t.name for t in doc.physician_titles}
    assert kind is not None and kind.prereview is not None
    if earlier is not None:
        values, readable, seconds = dict(earlier.extracted), bool(earlier.readable), 0.0
        name = earlier.engine
    else:
        try:
            async with local_copy(make_storage(settings), material) as path:
                read, readable, seconds = await anyio.to_thread.run_sync(
                    _read, engine, path, material.content_type, material.pages, kind.prereview, titles)
        except Exception:
            log.exception("pre-review could not read a material", extra={"material_id": str(material.id)})
            retry = row.attempts < MAX_ATTEMPTS
            await _set_status(sessionmaker, row,
                              PrereviewStatus.pending if retry else PrereviewStatus.failed)
            return False
        values, name = stored_fields(read, data_key=settings.data_key), engine.name
    async with sessionmaker() as session, session.begin():
        return await _finish(session, row, values, readable=readable, engine=name or engine.name,
                             seconds=seconds)


async def run_pending(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *,
                      limit: int | None = None, engine: OcrEngine | None = None) -> int:
    """Pre-review up to `limit` queued materials (`prereview_batch`); the number done. Each application
    whose material was done is then offered to the fast track."""
    if not settings.prereview_enabled:
        return 0
    engine = engine or await anyio.to_thread.run_sync(load_engine, settings.prereview_threads)
    done, seen = 0, set[uuid.UUID]()
    for _ in range(limit or settings.prereview_batch):
        row = await _claim(sessionmaker, with_unavailable=engine.available, skip=seen)
        if row is None:
            break
        seen.add(row.id)
        if await process(sessionmaker, settings, row, engine):
            done += 1
            await offer(sessionmaker, settings, row.application_id)
    return done


async def worker(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """The in-process worker: wait to be kicked (or for the next period), pre-review, sweep the fast track."""
    wake = prereview_wake.listen()
    while True:
        try:
            await asyncio.wait_for(wake.wait(), timeout=settings.jobs_interval_seconds)
        except TimeoutError:
            pass
        wake.clear()
        try:
            await run_pending(sessionmaker, settings)
            await sweep(sessionmaker, settings)
        except Exception:
            log.exception("pre-review worker failed; will try again")


async def prereview_out(session: AsyncSession, app: Application) -> PrereviewOut:
    """The findings of every material of the application that the pre-review reads, for staff."""
    rows = list((await session.execute(
        select(MaterialPrereview).where(MaterialPrereview.application_id == app.id,
                                        MaterialPrereview.material_id.is_not(None))
        .order_by(MaterialPrereview.created_at))).scalars())
    materials = [MaterialPrereviewOut(
        material_id=r.material_id, kind=r.kind, status=r.status, status_label=STATUS_LABELS[r.status],
        readable=r.readable, engine=r.engine, finished_at=r.finished_at,
        findings=[FindingOut(outcome_label=OUTCOME_LABELS[f["outcome"]], **shown(f)) for f in r.findings or []])
        for r in rows]
    all_match = bool(materials) and all(
        m.status == "done" and m.readable and m.findings and all(f.outcome == "match" for f in m.findings)
        for m in materials)
    return PrereviewOut(available=ocr_installed(), all_match=all_match, materials=materials)
