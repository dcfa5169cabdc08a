"""Crash safety: nothing acknowledged is lost when the server dies mid-flight, and `mtb doctor` finds
rows without their file and files without a row.

The crash test runs the real server (uvicorn in a subprocess) on the test database, sends 200
applicants through login, create, two uploads and submit, 20 at a time, kills the server with SIGKILL
once 60 submissions were answered, restarts it and checks every 2xx answer against the database, the
stored files and the restarted server. Run with `-s` to see the figures.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
from anyio.abc import Process
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from mtb.applications.models import Application
from mtb.applications.states import Status
from mtb.catalog.service import load_catalogs
from mtb.cli import app as cli
from mtb.db.engine import create_engine, create_sessionmaker
from mtb.identity import idnumber
from mtb.identity.models import InsuranceType, PersonStatus
from mtb.identity.registry import InsuredRecord, import_insured
from mtb.materials.doctor import diagnose, file_sha256
from mtb.materials.models import Material
from mtb.materials.stores import make_storage
from mtb.settings import Settings
from mtb.timeutil import utcnow
from tests.applications.helpers import BEIJING_SELF, create, submit, upload
from tests.factories import BEIJING, Seed, reference_catalogs
from tests.files import document_photo, pdf
from tests.storage import stored_names, write_raw

ROOT = Path(__file__).resolve().parents[1]
APPLICANTS, CONCURRENCY, KILL_AFTER = 200, 20, 60


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# --- the real server --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`uvicorn mtb.app:create_app` in a subprocess, on the test settings exported by the `settings` fixture."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process: Process | None = None
        self.url = ""

    async def start(self) -> None:
        port = _free_port()
        env = {**os.environ, "MTB_ENV": "development", "MTB_SCHEDULER_ENABLED": "false",
               "MTB_LOG_LEVEL": "WARNING"}
        with self.log.open("ab") as log:
            self.process = await anyio.open_process(
                [sys.executable, "-m", "uvicorn", "mtb.app:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(port), "--no-access-log"], env=env, stdout=log, stderr=log, cwd=ROOT)
        self.url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=1) as client:
            for _ in range(200):
                try:
                    if (await client.get(f"{self.url}/api/v1/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    await anyio.sleep(0.1)
        raise RuntimeError(self.log.read_text())

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            with anyio.fail_after(10):
                await self.process.wait()


@asynccontextmanager
async def sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings.database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


# --- the load -------------------------------------------------------------------------------------

@dataclass
class Applicant:
    """One applicant's credentials, files and what the server acknowledged of their requests."""

    index: int
    credentials: dict[str, str]
    files: list[tuple[str, str, bytes]]  # kind, name, content
    headers: dict[str, str] = field(default_factory=dict)
    app_id: str | None = None
    uploads: dict[str, str] = field(default_factory=dict)  # material id -> sha256 sent, answered 201
    submit_sent: bool = False
    submitted: bool = False  # submission answered 200
    refused: list[int] = field(default_factory=list)  # non-2xx answers
    cut: str | None = None  # the transport error that ended the journey


def applicants(base_photo: bytes) -> list[Applicant]:
    """200 people of Beijing, each with a photo and a PDF of their own (unique content, so every file
    belongs to one applicant)."""
    out = []
    for i in range(APPLICANTS):
        number = idnumber.with_check_digit(f"11010519700101{i:03d}")
        image = Image.open(io.BytesIO(base_photo)).convert("RGB")
        draw = ImageDraw.Draw(image)
        for bit in range(8):
            if i >> bit & 1:
                draw.rectangle([20 + bit * 24, 6, 36 + bit * 24, 22], fill=(0, 0, 0))
        photo = io.BytesIO()
        image.save(photo, "JPEG", quality=90)
        out.append(Applicant(i, {"name": "测试人", "id_number": number, "card_number": f"C{number[-8:]}"},
                             [("diagnosis_certificate", "diagnosis.jpg", photo.getvalue()),
                              ("filing_form", "filing-form.pdf", pdf(1, text=f"filing form {i}"))]))
    return out


async def seed(settings: Settings, people: list[Applicant]) -> None:
    records = [InsuredRecord(p.index + 2, p.credentials["name"], p.credentials["id_number"],
                             p.credentials["card_number"], InsuranceType.employee, BEIJING, PersonStatus.active)
               for p in people]
    async with sessions(settings) as maker, maker() as s, s.begin():
        await load_catalogs(s, list(reference_catalogs()))
        await import_insured(s, records)


async def journey(client: httpx.AsyncClient, a: Applicant) -> None:
    """Login, create, upload both materials, submit; stop at the first refusal or broken connection."""
    try:
        r = await client.post("/api/v1/auth/real-name", json=a.credentials)
        if r.status_code != 200:
            a.refused.append(r.status_code)
            return
        a.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await create(client, a.headers, **BEIJING_SELF)
        if r.status_code != 201:
            a.refused.append(r.status_code)
            return
        a.app_id = r.json()["id"]
        for kind, name, content in a.files:
            r = await upload(client, a.headers, a.app_id, kind, content, name=name)
            if r.status_code != 201:
                a.refused.append(r.status_code)
                return
            a.uploads[r.json()["id"]] = sha(content)
        a.submit_sent = True
        r = await submit(client, a.headers, a.app_id)
        if r.status_code != 200:
            a.refused.append(r.status_code)
            return
        a.submitted = True
    except httpx.TransportError as exc:
        a.cut = type(exc).__name__


async def load_until_killed(server: Server, people: list[Applicant]) -> float:
    """Run every journey, CONCURRENCY at a time; SIGKILL the server once KILL_AFTER submissions were
    answered 200. Returns the seconds the load ran."""
    limiter = anyio.Semaphore(CONCURRENCY)
    enough = anyio.Event()
    start = time.monotonic()

    async def one(a: Applicant) -> None:
        async with limiter:
            await journey(client, a)
        if sum(p.submitted for p in people) >= KILL_AFTER:
            enough.set()

    async def killer() -> None:
        await enough.wait()
        await server.kill()

    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client, \
            anyio.create_task_group() as outer:
        outer.start_soon(killer)
        async with anyio.create_task_group() as journeys:
            for a in people:
                journeys.start_soon(one, a)
        enough.set()  # all done without reaching KILL_AFTER: kill now (the test then fails)
    return time.monotonic() - start


# --- the crash test -------------------------------------------------------------------------------

async def test_nothing_acknowledged_is_lost_when_the_server_is_killed(settings: Settings, tmp_path: Path) -> None:
    people = applicants(document_photo(800, 640))
    await seed(settings, people)
    server = Server(tmp_path / "server.log")
    try:
        await server.start()
        seconds = await load_until_killed(server, people)
        assert server.process is not None and server.process.returncode == -signal.SIGKILL
        await server.start()

        created = [a for a in people if a.app_id]
        uploads = {mid: digest for a in people for mid, digest in a.uploads.items()}
        submitted = [a for a in people if a.submitted]
        figures = {
            "applicants": len(people), "load_seconds": round(seconds, 1),
            "created_201": len(created), "uploads_201": len(uploads),
            "submissions_sent": sum(a.submit_sent for a in people), "submissions_200": len(submitted),
            "refused_non_2xx": sorted(code for a in people for code in a.refused),
            "cut_by_kill": sum(a.cut is not None for a in people),
        }

        storage = make_storage(settings)
        async with sessions(settings) as maker, maker() as s:
            apps = {str(row.id): row.status for row in (await s.execute(select(Application))).scalars()}
            materials = {str(row.id): row.sha256 for row in (await s.execute(select(Material))).scalars()}
            before = await diagnose(s, storage, now=utcnow(), grace_minutes=settings.storage_gc_grace_minutes)
            cleaned = await diagnose(s, storage, now=utcnow() + timedelta(days=1),
                                     grace_minutes=settings.storage_gc_grace_minutes, clean=True)
            after = await diagnose(s, storage, now=utcnow(), grace_minutes=settings.storage_gc_grace_minutes)

        def kept(material_id: str, digest: str) -> bool:
            return materials.get(material_id) == digest and file_sha256(storage, digest) == digest

        found_submitted = [a for a in submitted if apps.get(str(a.app_id)) == Status.submitted.value
                           and len(a.uploads) == 2 and all(kept(*u) for u in a.uploads.items())]
        found_uploads = [mid for mid, digest in uploads.items() if kept(mid, digest)]
        served = await served_intact(server.url, people)
        assert cleaned.removed is not None
        figures |= {
            "submissions_found": len(found_submitted), "uploads_found": len(found_uploads),
            "applications_found": sum(a.app_id in apps for a in created), "uploads_served_intact": served,
            "material_rows": before.materials, "broken_rows": len(before.broken),
            "orphans": before.orphans, "orphan_bytes": before.orphan_bytes, "temporaries": before.temporaries,
            "orphans_removed": cleaned.removed.files, "temporaries_removed": cleaned.removed.temporaries,
        }
        print("\ncrash test:", ", ".join(f"{k}={v}" for k, v in figures.items()))

        assert len(submitted) >= KILL_AFTER and figures["cut_by_kill"] > 0, figures
        assert not [code for a in people for code in a.refused if code >= 500], figures
        assert len(found_submitted) == len(submitted), figures
        assert len(found_uploads) == len(uploads) == served, figures
        assert figures["applications_found"] == len(created), figures
        assert before.healthy and cleaned.healthy and after.healthy, figures
        assert cleaned.removed.files == before.orphans and after.orphans == after.temporaries == 0, figures
        assert after.materials == before.materials, figures
    finally:
        await server.stop()


async def served_intact(url: str, people: list[Applicant]) -> int:
    """How many acknowledged uploads the restarted server serves byte-identical (old tokens still hold)."""
    limiter = anyio.Semaphore(CONCURRENCY)
    intact = 0

    async def check(a: Applicant, material_id: str, digest: str) -> None:
        nonlocal intact
        async with limiter:
            r = await client.get(f"/api/v1/applications/{a.app_id}/materials/{material_id}/file", headers=a.headers)
        intact += r.status_code == 200 and sha(r.content) == digest

    async with httpx.AsyncClient(base_url=url, timeout=60) as client, anyio.create_task_group() as tg:
        for a in people:
            for material_id, digest in a.uploads.items():
                tg.start_soon(check, a, material_id, digest)
    return intact


# --- doctor on a crafted state --------------------------------------------------------------------

async def test_doctor_finds_missing_and_corrupt_files_and_cleans_orphans(
        settings: Settings, client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    photo, form = document_photo(800, 640), pdf(1)
    gone = (await upload(client, headers, app_id, "diagnosis_certificate", photo)).json()["id"]
    spoiled = (await upload(client, headers, app_id, "filing_form", form, name="form.pdf")).json()["id"]
    storage = make_storage(settings)
    storage.delete(sha(photo))
    write_raw(storage, sha(form), b"not the form any more")
    orphan = b"an upload whose row never committed"
    write_raw(storage, sha(orphan), orphan)
    storage.tmp.mkdir(parents=True, exist_ok=True)
    (storage.tmp / "up-leftover").write_bytes(b"12345")

    async with seed.sessionmaker() as s:
        report = await diagnose(s, storage, now=utcnow(), grace_minutes=60)
        young = await diagnose(s, storage, now=utcnow(), grace_minutes=60, clean=True)
    assert (report.materials, report.files_checked) == (2, 2)
    assert [(str(b.material_id), b.problem) for b in report.missing] == [(gone, "missing")]
    assert [(str(b.material_id), b.problem) for b in report.corrupt] == [(spoiled, "corrupt")]
    assert not report.healthy
    assert (report.orphans, report.orphan_bytes, report.orphans_past_grace) == (1, len(orphan), 0)
    assert (report.temporaries, report.temporary_bytes, report.temporaries_past_grace) == (1, 5, 0)
    assert young.removed is not None and (young.removed.files, young.removed.temporaries) == (0, 0)
    assert sha(orphan) in stored_names(storage)  # may belong to an upload about to commit

    result = await anyio.to_thread.run_sync(CliRunner().invoke, cli, ["doctor"])
    assert result.exit_code == 1, result.output
    assert f"missing: material {gone} of application {app_id}" in result.output
    assert f"corrupt: material {spoiled} of application {app_id}" in result.output
    assert "orphan files: 1 (35 bytes), 0 untouched for 60 min" in result.output

    async with seed.sessionmaker() as s:
        old = await diagnose(s, storage, now=utcnow() + timedelta(hours=2), grace_minutes=60, clean=True)
        after = await diagnose(s, storage, now=utcnow(), grace_minutes=60)
    assert old.removed is not None
    assert (old.removed.files, old.removed.bytes, old.removed.temporaries) == (1, len(orphan), 1)
    assert stored_names(storage) == [sha(form)]  # a row refers to it: reported, never removed
    assert not (storage.tmp / "up-leftover").exists()
    assert (after.orphans, after.temporaries, len(after.broken)) == (0, 0, 2)


def test_doctor_command_on_a_healthy_store(settings: Settings) -> None:
    storage = make_storage(settings)
    orphan = b"left over"
    write_raw(storage, sha(orphan), orphan)
    result = CliRunner().invoke(cli, ["doctor", "--clean"])
    assert result.exit_code == 0, result.output
    assert "orphan files: 1 (9 bytes), 0 untouched for 60 min" in result.output
    assert "removed 0 orphan files (0 bytes) and 0 temporary files" in result.output
    assert "ok: every material's file is present and intact" in result.output
    assert stored_names(storage) == [sha(orphan)]
