"""Test harness: a real database (SQLite, or PostgreSQL via MTB_TEST_DATABASE_URL) made by the Alembic
migrations, emptied before every test; the app served in-process over httpx.

Tests empty the tables rather than roll back a savepoint, so that code which opens its own
transactions (login throttling, the CLI, concurrent requests) is tested exactly as it runs.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from mtb import timeutil
from mtb.app import create_app
from mtb.db.migrate import upgrade
from mtb.logs import find_ids, mask_ids
from mtb.models import Base
from mtb.settings import Settings, get_settings
from tests.factories import Seed
from tests.logstate import logging_restored  # noqa: F401  (a fixture)
from tests.storage import s3_endpoint, storage_variables  # noqa: F401  (s3_endpoint: a fixture)

ROOT = Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Mark every coroutine test for anyio before anyio's own hook sees it (so parametrize works too)."""
    if name.startswith("test") and inspect.iscoroutinefunction(obj):
        pytest.mark.anyio(obj)


# Slow tests: processes, servers, browsers, OCR, object storage, fuzzing, topology. `make test` runs them
# all; the mark only lets a developer leave them out while working (`pytest -m "not slow"`).
SLOW_FILES = {"tests/test_crash.py", "tests/test_serve.py", "tests/security/test_fuzz.py",
              "tests/prereview/test_extract.py", "tests/prereview/test_job.py", "tests/materials/test_s3_storage.py",
              "tests/topology/test_topology.py", "tests/faults/test_faults.py"}
SLOW_DIRS = ("tests/e2e/",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.resolve()
        where = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else ""
        if where in SLOW_FILES or where.startswith(SLOW_DIRS) or "s3_endpoint" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs two workers) each worker has a PostgreSQL database of its own:
    MTB_TEST_DATABASE_URL's database with the worker's name appended (made if missing), set before any
    test module reads the variable. SQLite databases and S3 prefixes are per worker or per test already."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("MTB_TEST_DATABASE_URL")
    if worker and url and make_url(url).get_backend_name() == "postgresql":
        os.environ["MTB_TEST_DATABASE_URL"] = worker_database(url, worker)


def worker_database(url: str, worker: str) -> str:
    """The URL of `url`'s database suffixed with `_<worker>`, created from a connection to `url`."""
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    engine = create_sync_engine(_sync_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.set(drivername="sqlite"))
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("MTB_TEST_DATABASE_URL") or (
        f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/test.sqlite3")
    if make_url(url).get_backend_name() == "postgresql":
        engine = create_sync_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def sync_engine(database_url: str) -> Iterator[Engine]:
    engine = create_sync_engine(_sync_url(database_url))
    yield engine
    engine.dispose()


def empty_database(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def settings(database_url: str, sync_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings for one test, exported as MTB_ variables (so the CLI sees them too), on an empty database;
    material files on S3 with MTB_TEST_STORAGE_URL (tests/storage.py)."""
    empty_database(sync_engine)
    values = {
        "MTB_ENV": "test",
        "MTB_DATABASE_URL": database_url,
        "MTB_STORAGE_PATH": str(tmp_path / "files"),
        "MTB_CATALOG_PATH": str(ROOT / "data" / "catalog"),
        "MTB_CACHE_PATH": str(ROOT / "var" / "cache"),
        "MTB_QUALITY_SAMPLE_RATE": "0",
        "MTB_SCHEDULER_ENABLED": "false",
        "MTB_SECRET_KEY": "test-secret-key-for-signing-access-tokens",
        "MTB_DATA_KEY": "test-data-key-for-resident-id-numbers-0001",
    } | storage_variables(request)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
async def app_and_client(settings: Settings) -> AsyncIterator[tuple[object, httpx.AsyncClient]]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://mtb.test") as client:
        yield app, client
    await app.state.engine.dispose()


@pytest.fixture
def client(app_and_client: tuple[object, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


@pytest.fixture
def seed(app_and_client: tuple[object, httpx.AsyncClient]) -> Seed:
    app, client = app_and_client
    return Seed(app.state.sessionmaker, client)  # type: ignore[attr-defined]


class Clock:
    """The stopped clock of a test: `clock.set("2027-03-01")` is 10:00 that day in Beijing time."""

    def set(self, day: str, hour: int = 10) -> None:
        local = datetime.fromisoformat(day).replace(hour=hour, tzinfo=ZoneInfo("Asia/Shanghai"))
        timeutil.freeze(local.astimezone(UTC))


@pytest.fixture
def clock() -> Iterator[Clock]:
    yield Clock()
    timeutil.freeze(None)


class _IdNumberWatch(logging.Handler):
    """Sees every log record of the test session, raw (before any masking formatter), and remembers any
    that carries a valid resident ID number, however written (`mtb.logs.find_ids`: separators, URL
    encodings, full-width digits, 15-digit legacy numbers)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.offenders: list[str] = []

    # The HTTP client of the tests plays the hospital or the phone: its own logs are not MTB's.
    clients = ("httpx", "httpcore", "hpack")
    # The record's own bookkeeping, not its content: a thread ident (140xxxxxxxxxxxx, 15 digits) or a
    # timestamp can spell a valid legacy ID number by chance, which made the watch fail at random.
    bookkeeping = frozenset({"msg", "args", "thread", "threadName", "process", "processName", "created",
                             "msecs", "relativeCreated", "lineno", "levelno", "pathname", "filename",
                             "module", "funcName", "taskName"})

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(self.clients):
            return
        texts = [record.getMessage(),
                 *(str(v) for k, v in vars(record).items() if k not in self.bookkeeping)]
        for value in texts:
            if next(find_ids(value), None) is not None:
                self.offenders.append(f"{record.name}: {mask_ids(value[:160])!r}")


@pytest.fixture(scope="session", autouse=True)
def no_id_number_in_logs() -> Iterator[None]:
    """Logs never carry a full ID number: checked over every record the whole suite produces."""
    watch = _IdNumberWatch()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(watch)
    root.setLevel(logging.INFO)
    yield
    root.removeHandler(watch)
    root.setLevel(previous)
    assert not watch.offenders, "full ID numbers were logged:\n" + "\n".join(watch.offenders[:20])
