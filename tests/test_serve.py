"""`mtb serve` as operators run it: a SIGTERM drains the process (readiness 503), lets an upload in flight
finish, and exits 0; several workers share one socket and one metrics view."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
from anyio.abc import Process

from mtb.identity import idnumber
from mtb.logs import find_ids
from mtb.materials.models import Material
from mtb.materials.stores import make_storage
from mtb.settings import Settings
from tests.applications.helpers import BEIJING_SELF, create
from tests.factories import Seed
from tests.files import document_photo

MTB = Path(sys.executable).parent / "mtb"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def serve(log: Path, *args: str, **env: str) -> tuple[Process, str]:
    """`mtb serve` on the test settings (exported by the `settings` fixture), answering on a free port."""
    port = free_port()
    with log.open("ab") as out:
        process = await anyio.open_process(
            [str(MTB), "serve", "--port", str(port), *args], cwd=ROOT, stdout=out, stderr=out,
            env={**os.environ, "MTB_ENV": "development", "MTB_LOG_LEVEL": "WARNING", **env})
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=1) as client:
        for _ in range(300):
            try:
                if (await client.get(f"{url}/api/v1/health")).status_code == 200:
                    return process, url
            except httpx.TransportError:
                await anyio.sleep(0.1)
    process.kill()
    raise RuntimeError(log.read_text())


def multipart(kind: str, name: str, content: bytes) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/", data={"kind": kind},
                            files={"file": (name, content, "image/jpeg")})
    return request.read(), request.headers["content-type"]


async def test_sigterm_finishes_the_upload_in_flight_then_exits_0(settings: Settings, seed: Seed,
                                                                   tmp_path: Path) -> None:
    """Steps: start an upload that arrives in 12 slices 0.25 s apart; after the 4th, SIGTERM. Readiness
    then answers 503 during the drain (1 s); the server stops accepting; the upload goes on arriving and
    is answered 201; the process exits 0; the row and the file are there."""
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    app_id = (await create(seed.client, headers, **BEIJING_SELF)).json()["id"]
    photo = document_photo(seed=11)
    body, content_type = multipart("diagnosis_certificate", "diagnosis.jpg", photo)
    process, url = await serve(tmp_path / "server.log", MTB_SHUTDOWN_DRAIN_SECONDS="1",
                               MTB_SHUTDOWN_GRACE_SECONDS="30")
    slices = [body[i * len(body) // 12:(i + 1) * len(body) // 12] for i in range(12)]
    halfway = anyio.Event()

    async def slowly() -> AsyncIterator[bytes]:
        for i, piece in enumerate(slices):
            if i == 4:
                halfway.set()
            yield piece
            await anyio.sleep(0.25)

    answer: dict[str, httpx.Response] = {}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client, anyio.create_task_group() as tg:
            async def upload() -> None:
                answer["upload"] = await client.post(
                    f"/api/v1/applications/{app_id}/materials", content=slowly(),
                    headers=headers | {"Content-Type": content_type, "Content-Length": str(len(body))})

            tg.start_soon(upload)
            await halfway.wait()
            process.send_signal(signal.SIGTERM)
            await anyio.sleep(0.3)
            async with httpx.AsyncClient(base_url=url, timeout=5) as prober:
                answer["ready"] = await prober.get("/api/v1/health/ready")
        with anyio.fail_after(30):
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
    assert (answer["ready"].status_code, answer["ready"].json()["check"]) == (503, "shutdown")
    assert answer["upload"].status_code == 201, answer["upload"].text
    assert code == 0, (tmp_path / "server.log").read_text()[-2000:]
    digest = hashlib.sha256(photo).hexdigest()
    async with seed.sessionmaker() as s:
        row = await s.get(Material, uuid.UUID(answer["upload"].json()["id"]))
    assert row is not None and row.sha256 == digest
    stored = make_storage(settings).open(digest)
    try:
        assert hashlib.sha256(stored.stream.read()).hexdigest() == digest
    finally:
        stored.stream.close()


async def test_workers_share_the_socket_and_the_metrics(settings: Settings, tmp_path: Path) -> None:
    metrics_dirs = set(Path(tempfile.gettempdir()).glob("mtb-metrics-*"))
    process, url = await serve(tmp_path / "server.log", "--workers", "2", MTB_SCHEDULER_ENABLED="false")
    ours = set(Path(tempfile.gettempdir()).glob("mtb-metrics-*")) - metrics_dirs
    assert ours  # made for this start
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            answers = [await client.get("/api/v1/health/ready") for _ in range(6)]
            scrapes = [await client.get("/metrics") for _ in range(4)]
        os.kill(process.pid, signal.SIGTERM)
        with anyio.fail_after(30):
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
    assert {a.status_code for a in answers} == {200}
    assert {s.status_code for s in scrapes} == {200}
    assert all("mtb_review_queue_depth" in s.text and "mtb_jobs_failures_total" in s.text for s in scrapes)
    assert code == 0
    assert not [d for d in ours if d.exists()]  # and removed at the end


async def test_the_shipped_log_has_one_masked_json_line_per_request(settings: Settings, tmp_path: Path) -> None:
    """`mtb serve` at the shipped INFO level: every request makes exactly one access line (the Edge's;
    uvicorn's own, with the raw query string, stays off), JSON, with the query string, and no ID number in
    any spelling reaches the file (issue 16, item 10)."""
    spelled = ["110105198001019010", "1101 0519 8001 0190 10", "110105-19800101-9010", "110105+19800101+9010",
               "110105%2019800101%209010", "%31%31%30%31%30%35%31%39%38%30%30%31%30%31%39%30%31%30",
               "110105800101901"]
    log = tmp_path / "server.log"
    process, url = await serve(log, MTB_LOG_LEVEL="INFO", MTB_SCHEDULER_ENABLED="false")
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            for text in spelled:
                await client.get(f"/api/v1/eligibility?id_number={text}&disease_code=X",
                                 headers={"X-Api-Key": "not-a-key"})
                await client.get(f"/api/v1/no-such-route/{text}")
        os.kill(process.pid, signal.SIGTERM)
        with anyio.fail_after(30):
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    asked = [line for line in lines if line["event"] == "request" and line["path"] != "/api/v1/health"]
    assert len(asked) == 2 * len(spelled)
    shown = "id_number=" + idnumber.mask("110105198001019010")
    assert all(line["query"].startswith(shown) for line in asked[::2]), asked[::2]
    assert list(find_ids(text)) == [], text[-2000:]
    assert "19800101" not in text.replace("%", "") and "800101901" not in text
