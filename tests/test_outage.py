"""Infrastructure failures answered as such (mtb/outage.py): a database that cannot be reached is 503
`database_unavailable` with Retry-After on every kind of route (the hot paths and their direct reader, the
ORM routes, logins, uploads, pages, readiness), never a 500; connections the server ended are replaced;
a full disk is 507 `disk_full` and keeps nothing half-written.

The unreachable databases are real: a PostgreSQL URL on a closed port and a SQLite "file" that is a
directory, both tested on every run. The full disks are real small filesystems (tmpfs, mounted when the
tests run as root, as in CI; skipped otherwise). The same faults under load, on the deployment topology
with a database that really stops, are tests/faults.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import asyncpg
import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from mtb.app import create_app
from mtb.db.migrate import upgrade
from mtb.identity.models import StaffRole
from mtb.materials.doctor import DoctorReport, diagnose
from mtb.outage import DatabaseUnavailable, DiskFull, failure_of
from mtb.qualifications.keys import create_hospital_key
from mtb.settings import Settings
from mtb.timeutil import utcnow
from mtb.web.core import SESSION_COOKIE
from tests.applications.helpers import BEIJING_SELF, create, upload
from tests.disk import fill, tmpfs
from tests.factories import Seed
from tests.files import document_photo
from tests.review.helpers import submitted

# --- which exceptions are outages --------------------------------------------------------------------


def _wrapped(orig: BaseException) -> sa_exc.DBAPIError:
    return sa_exc.OperationalError("SELECT 1", {}, orig)  # type: ignore[arg-type]


def _pg_error(cls: type[psycopg.Error]) -> psycopg.Error:
    return cls("server closed the connection")


UNAVAILABLE: list[BaseException] = [
    psycopg.OperationalError("connection refused"),
    _wrapped(psycopg.OperationalError("connection is bad")),
    _wrapped(_pg_error(psycopg.errors.AdminShutdown)),
    _wrapped(_pg_error(psycopg.errors.CannotConnectNow)),
    _wrapped(_pg_error(psycopg.errors.TooManyConnections)),
    _wrapped(_pg_error(psycopg.errors.ProtocolViolation)),  # PgBouncer: query_wait_timeout, login failing
    sa_exc.InterfaceError("SELECT 1", {}, psycopg.InterfaceError("the connection is closed")),
    sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.InterfaceError("connection is closed"),
    # Seen under load while PgBouncer dropped connections: the connection is replaced at its next use.
    asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
    TimeoutError(),
    sqlite3.OperationalError("database is locked"),
    _wrapped(sqlite3.OperationalError("disk I/O error")),
]
FULL: list[BaseException] = [
    OSError(errno.ENOSPC, "No space left on device"),
    _wrapped(sqlite3.OperationalError("database or disk is full")),
    _wrapped(_pg_error(psycopg.errors.DiskFull)),
    asyncpg.exceptions.DiskFullError("could not extend file"),
]
NOT_OUTAGES: list[BaseException] = [
    ValueError("a bug"),
    KeyError("a bug"),
    sa_exc.IntegrityError("INSERT", {}, _pg_error(psycopg.errors.UniqueViolation)),  # type: ignore[arg-type]
    _wrapped(sqlite3.OperationalError("no such table: applications")),  # a schema not migrated: a bug
    _wrapped(_pg_error(psycopg.errors.QueryCanceled)),
    OSError(errno.EACCES, "Permission denied"),
    asyncpg.exceptions.UndefinedTableError("relation does not exist"),
]


@pytest.mark.parametrize("exc", UNAVAILABLE, ids=lambda e: type(e).__name__)
def test_a_database_that_cannot_be_reached_is_503_with_retry_after(exc: BaseException) -> None:
    failure = failure_of(exc)
    assert isinstance(failure, DatabaseUnavailable)
    assert (failure.status_code, failure.code) == (503, "database_unavailable")
    assert failure.headers is not None and int(failure.headers["Retry-After"]) > 0


@pytest.mark.parametrize("exc", FULL, ids=lambda e: type(e).__name__)
def test_a_full_disk_is_507_disk_full(exc: BaseException) -> None:
    failure = failure_of(exc)
    assert isinstance(failure, DiskFull)
    assert (failure.status_code, failure.code) == (507, "disk_full")
    assert failure.headers is not None and int(failure.headers["Retry-After"]) > 0


@pytest.mark.parametrize("exc", NOT_OUTAGES, ids=lambda e: type(e).__name__)
def test_other_errors_are_not_outages(exc: BaseException) -> None:
    assert failure_of(exc) is None


def test_an_outage_raised_from_another_error_is_found() -> None:
    try:
        try:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        except ConnectionRefusedError as cause:
            raise RuntimeError("while opening the pool") from cause
    except RuntimeError as exc:
        assert isinstance(failure_of(exc), DatabaseUnavailable)


# --- every kind of request, the database unreachable --------------------------------------------------


@dataclass
class Scene:
    """Made on the working database; then sent to an app whose database cannot be reached."""

    person: dict[str, str]  # Authorization header
    staff: dict[str, str]
    key: str
    submitted_id: str
    draft_id: str
    credentials: dict[str, str]


async def _scene(client: httpx.AsyncClient, seed: Seed) -> Scene:
    await seed.catalogs()
    zhang, li = await seed.person("zhang"), await seed.person("li")
    reviewer = await seed.staff("bj_reviewer", StaffRole.reviewer)
    submitted_id, person = await submitted(client, seed, zhang)
    li_headers = await seed.login(li)
    draft = await create(client, li_headers, **BEIJING_SELF)
    assert draft.status_code == 201, draft.text
    async with seed.sessionmaker() as s, s.begin():
        _row, key = await create_hospital_key(s, "BJ-EX-0001")
    return Scene(person, await seed.staff_login(reviewer), key, submitted_id, draft.json()["id"],
                 li.credentials() | {"_headers": li_headers["Authorization"]})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is


def _unreachable(kind: str, tmp_path: Path) -> str:
    if kind == "postgresql":
        return f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/mtb"
    directory = tmp_path / "not-a-database-file"
    directory.mkdir()
    return f"sqlite+aiosqlite:///{directory}"


def _assert_unavailable(r: httpx.Response, what: str) -> None:
    assert r.status_code == 503, (what, r.status_code, r.text[:300])
    assert int(r.headers["retry-after"]) > 0, what
    if r.headers["content-type"].startswith("application/json"):
        assert r.json()["error"] == "database_unavailable", (what, r.text)
    else:
        assert "数据库暂时不可用" in r.text, what


@pytest.mark.parametrize("hot_paths", [True, False], ids=["hot-paths", "fastapi-routes"])
@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
async def test_every_kind_of_request_answers_503_while_the_database_is_unreachable(
        client: httpx.AsyncClient, seed: Seed, settings: Settings, tmp_path: Path, kind: str,
        hot_paths: bool) -> None:
    scene = await _scene(client, seed)
    broken = create_app(settings.model_copy(update={"database_url": _unreachable(kind, tmp_path),
                                                    "hot_paths": hot_paths}))
    person, staff = scene.person, scene.staff
    li = {"Authorization": scene.credentials["_headers"]}
    credentials = {k: v for k, v in scene.credentials.items() if not k.startswith("_")}
    transport = httpx.ASGITransport(app=broken, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://mtb.test") as c:
        answers = {
            "status (hot)": await c.get(f"/api/v1/applications/{scene.submitted_id}/status", headers=person),
            "full read (hot)": await c.get(f"/api/v1/applications/{scene.submitted_id}", headers=person),
            "queue (hot)": await c.get("/api/v1/review/queue", headers=staff),
            "eligibility (hot)": await c.get("/api/v1/eligibility", headers={"X-Api-Key": scene.key}, params={
                "id_number": "110105198001019016", "disease_code": "BJ-TUMOR-CHEMO",
                "hospital_code": "BJ-EX-0001"}),
            "list": await c.get("/api/v1/applications", headers=person),
            "login": await c.post("/api/v1/auth/real-name", json=credentials),
            "create": await c.post("/api/v1/applications", json=BEIJING_SELF, headers=li),
            "upload": await upload(c, li, scene.draft_id, "diagnosis_certificate", document_photo(seed=7)),
            "submit": await c.post(f"/api/v1/applications/{scene.draft_id}/submit",
                                   headers=li | {"Idempotency-Key": scene.draft_id}),
            "claim": await c.post(f"/api/v1/review/applications/{scene.submitted_id}/claim", headers=staff),
            "download": await c.get(f"/api/v1/applications/{scene.submitted_id}/materials/{uuid.uuid4()}/file",
                                    headers=person),
        }
        c.cookies.set(SESSION_COOKIE, person["Authorization"].split()[1], domain="mtb.test")
        answers["page"] = await c.get("/")
        ready = await c.get("/api/v1/health/ready")
    await broken.state.engine.dispose()
    for what, r in answers.items():
        _assert_unavailable(r, what)
    assert (ready.status_code, ready.json()["check"]) == (503, "database")
    assert not list(settings.storage_path.joinpath("tmp").glob("up-*"))  # the upload's spool file is gone
    # Nothing of it reached the working database, which answers as before.
    mine = await client.get(f"/api/v1/applications/{scene.draft_id}", headers=li)
    assert (mine.json()["status"], mine.json()["materials"]) == ("draft", [])


POSTGRES_URL = os.environ.get("MTB_TEST_DATABASE_URL", "")
on_postgres = pytest.mark.skipif(make_url(POSTGRES_URL or "sqlite://").get_backend_name() != "postgresql",
                                 reason="PostgreSQL only (MTB_TEST_DATABASE_URL)")


@on_postgres
async def test_connections_the_server_ended_are_replaced(
        app_and_client: tuple[FastAPI, httpx.AsyncClient], seed: Seed, sync_engine: Engine) -> None:
    """Every connection of the app ended by the server (as a restart does): the requests that meet a dead
    connection are answered 503 database_unavailable (at most one per connection), the rest 200, and
    afterwards every request 200 on new connections, without a restart of the app."""
    _app, client = app_and_client
    scene = await _scene(client, seed)
    status = f"/api/v1/applications/{scene.submitted_id}/status"
    for _ in range(3):  # the direct reader's and the session pool's connections are open
        assert (await client.get(status, headers=scene.person)).status_code == 200
        assert (await client.get("/api/v1/applications", headers=scene.person)).status_code == 200
    with sync_engine.begin() as conn:
        ended = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")).scalar_one()
    sync_engine.dispose()  # the harness's own connections were ended too
    assert ended > 0
    answers = [await client.get(path, headers=scene.person)
               for _ in range(8) for path in (status, "/api/v1/applications")]
    for r in answers:
        assert r.status_code in (200, 503), r.text
        if r.status_code == 503:
            _assert_unavailable(r, r.request.url.path)
    assert [r.status_code for r in answers[-6:]] == [200] * 6


# --- a full disk ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (root only: skips otherwise)."""
    with tmpfs(path, size) as not_mounted:
        if not_mounted is not None:
            pytest.skip(not_mounted)
        yield path


async def _doctor(app: FastAPI) -> DoctorReport:
    """`mtb doctor` on the app's database and storage."""
    async with app.state.sessionmaker() as session:
        return await diagnose(session, app.state.storage, now=utcnow(), grace_minutes=60)


async def test_an_upload_to_a_full_spool_is_507_and_leaves_nothing(settings: Settings, tmp_path: Path) -> None:
    """The material files (MTB_STORAGE_PATH, the upload spool under it; on S3 the spool alone) on a small
    filesystem that fills: uploads are refused 507 disk_full with no row and no spooled file; once space
    returns an upload is stored, and `mtb doctor` finds every material's file."""
    with small_filesystem(tmp_path / "files", "8m") as mount:
        app = create_app(settings.model_copy(update={"storage_path": mount}))
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://mtb.test") as client:
            scene = await _scene(client, Seed(app.state.sessionmaker, client))
            li = {"Authorization": scene.credentials["_headers"]}
            filler = fill(mount)
            photos = [document_photo(1000 + 100 * i, 800, seed=i) for i in range(3)]
            refused = [await upload(client, li, scene.draft_id, "diagnosis_certificate", p) for p in photos]
            leftovers = list((mount / "tmp").glob("up-*"))
            filler.unlink()
            accepted = await upload(client, li, scene.draft_id, "diagnosis_certificate", photos[0])
            mine = (await client.get(f"/api/v1/applications/{scene.draft_id}", headers=li)).json()
            report = await _doctor(app)
        await app.state.engine.dispose()
    for r in refused:
        assert r.status_code == 507 and r.json()["error"] == "disk_full", r.text
        assert int(r.headers["retry-after"]) > 0
    assert leftovers == []
    assert accepted.status_code == 201, accepted.text
    assert [m["id"] for m in mine["materials"]] == [accepted.json()["id"]]
    assert report.healthy, report


async def test_a_full_disk_under_the_sqlite_database_is_507_and_the_database_stays_whole(
        settings: Settings, tmp_path: Path) -> None:
    """The embedded default on a small filesystem: writes refused 507 disk_full (a write that fits in
    what SQLite already has succeeds), never a 500; every acknowledged write is there; the file passes
    SQLite's integrity check and `mtb doctor`; writes work again once space returns."""
    with small_filesystem(tmp_path / "db", "24m") as mount:
        url = f"sqlite+aiosqlite:///{mount}/mtb.sqlite3"
        await anyio.to_thread.run_sync(upgrade, url)
        app = create_app(settings.model_copy(update={"database_url": url}))
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://mtb.test") as c:
            seed = Seed(app.state.sessionmaker, c)
            await seed.catalogs()
            people = [await seed.person() for _ in range(40)]
            tokens = [await seed.login(p) for p in people]
            # The write-ahead log emptied to 0 bytes: the next write needs space it no longer has (a log
            # file of its old size would take a few more writes first).
            with contextlib.closing(sqlite3.connect(f"{mount}/mtb.sqlite3")) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            filler = fill(mount)
            answers = [await create(c, headers, **BEIJING_SELF) for headers in tokens[:30]]
            filler.unlink()
            after = [await create(c, headers, **BEIJING_SELF) for headers in tokens[30:]]
            listed = [(await c.get("/api/v1/applications", headers=h)).json() for h in tokens[:30]]
            report = await _doctor(app)
        await app.state.engine.dispose()
        integrity = sqlite3.connect(f"{mount}/mtb.sqlite3").execute("PRAGMA integrity_check").fetchone()
    codes = [r.status_code for r in answers]
    assert set(codes) <= {201, 507}, [r.text for r in answers if r.status_code not in (201, 507)]
    assert 507 in codes, codes
    for r, mine in zip(answers, listed, strict=True):
        if r.status_code == 507:
            assert r.json()["error"] == "disk_full" and int(r.headers["retry-after"]) > 0
            assert mine == []
        else:
            assert r.json()["id"] in str(mine)
    assert [r.status_code for r in after] == [201] * len(after)
    assert integrity == ("ok",)
    assert report.healthy, report
