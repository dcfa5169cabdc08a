"""`mtb backup` / `mtb restore` of the embedded default: a backup restored into an empty place is the same
data (row counts, file hashes) and serves the same application; every refusal leaves things as they were."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from alembic.script import ScriptDirectory
from click.testing import Result
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import func, inspect, select, table
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from mtb.app import create_app
from mtb.cli import app as cli
from mtb.db.engine import is_sqlite
from mtb.db.migrate import alembic_config
from mtb.settings import Settings, get_settings
from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, upload, upload_all
from tests.factories import Person, Seed
from tests.files import document_photo

runner = CliRunner()


@pytest.fixture
def sqlite_settings(settings: Settings) -> Settings:
    if not is_sqlite(settings.database_url):
        pytest.skip("mtb backup/restore cover the embedded SQLite default only; this run's database is "
                    "PostgreSQL (backed up with pg_dump / PITR, see docs/backup.md)")
    if settings.storage_url:
        pytest.skip("mtb backup/restore cover local material files only; this run's are in object storage "
                    "(refused: tests/materials/test_s3_storage.py)")
    return settings


async def invoke(*args: str) -> Result:
    """The CLI runs its own event loop, so it runs in a thread of its own here."""
    return await anyio.to_thread.run_sync(lambda: runner.invoke(cli, list(args)))


def use_database(monkeypatch: pytest.MonkeyPatch, directory: Path) -> Settings:
    """Point the settings (and so the CLI) at a database file and storage under `directory`."""
    monkeypatch.setenv("MTB_DATABASE_URL", f"sqlite+aiosqlite:///{directory / 'mtb.sqlite3'}")
    monkeypatch.setenv("MTB_STORAGE_PATH", str(directory / "files"))
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def restored_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_sync_engine(f"sqlite:///{tmp_path / 'restored' / 'mtb.sqlite3'}")
    yield engine
    engine.dispose()


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                for name in inspect(conn).get_table_names()}


def file_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != "tmp"}


async def some_data(client: httpx.AsyncClient, seed: Seed) -> tuple[Person, str]:
    """zhang's Beijing application with its materials, one file uploaded twice (stored once)."""
    await seed.catalogs()
    zhang = await seed.person("zhang")
    await seed.person("li")
    headers = await seed.login(zhang)
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    await upload_all(client, headers, app_id, BEIJING_MATERIALS)
    assert (await upload(client, headers, app_id, "supplementary", document_photo(seed=0))).status_code == 201
    return zhang, app_id


async def test_restore_into_an_empty_place_gives_the_same_data(
        sqlite_settings: Settings, client: httpx.AsyncClient, seed: Seed, sync_engine: Engine,
        restored_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zhang, app_id = await some_data(client, seed)
    storage = sqlite_settings.storage_path
    (storage / "tmp").mkdir(parents=True, exist_ok=True)
    (storage / "tmp" / "up-half-received").write_bytes(b"partial upload")
    counts, hashes = row_counts(sync_engine), file_hashes(storage)
    assert counts["materials"] == 3 and len(hashes) == 2

    result = await invoke("backup", str(tmp_path / "backup"))
    assert result.exit_code == 0, result.output
    assert "2 files" in result.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text("utf-8"))
    assert manifest["tables"] == counts
    assert manifest["file_count"] == 2 and manifest["files"] == hashes
    head = ScriptDirectory.from_config(alembic_config(sqlite_settings.database_url)).get_current_head()
    assert manifest["alembic_revision"] == head
    assert not (tmp_path / "backup" / "files" / "tmp").exists()

    restored = use_database(monkeypatch, tmp_path / "restored")
    result = await invoke("restore", str(tmp_path / "backup"))
    assert result.exit_code == 0, result.output
    assert row_counts(restored_engine) == counts
    assert file_hashes(restored.storage_path) == hashes

    served = create_app(restored)
    transport = httpx.ASGITransport(app=served, client=("198.51.100.8", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://mtb.test") as again:
            login = await again.post("/api/v1/auth/real-name", json=zhang.credentials())
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            application = await again.get(f"/api/v1/applications/{app_id}", headers=headers)
            assert application.status_code == 200, application.text
            materials = application.json()["materials"]
            assert len(materials) == 3
            for material in materials:
                file = await again.get(f"/api/v1/applications/{app_id}/materials/{material['id']}/file",
                                       headers=headers)
                assert file.status_code == 200
                assert hashlib.sha256(file.content).hexdigest() in hashes.values()
    finally:
        await served.state.engine.dispose()


async def test_backup_refuses_a_non_empty_destination(sqlite_settings: Settings, tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "notes.txt").write_text("keep me", "utf-8")
    result = await invoke("backup", str(dest))
    assert result.exit_code == 1
    assert "not an empty directory" in result.output
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]


def test_postgresql_is_sent_to_pg_dump_and_the_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MTB_DATABASE_URL", "postgresql+psycopg://mtb@db.invalid/mtb")
    get_settings.cache_clear()
    try:
        for args in (["backup", str(tmp_path / "b")], ["restore", str(tmp_path)]):
            result = runner.invoke(cli, args)
            assert result.exit_code == 1
            assert "not SQLite" in result.output and "pg_dump" in result.output
            assert "docs/backup.md" in result.output
        assert not (tmp_path / "b").exists()
    finally:
        get_settings.cache_clear()


async def test_restore_refuses_a_database_with_data_unless_forced(
        sqlite_settings: Settings, client: httpx.AsyncClient, seed: Seed, sync_engine: Engine,
        restored_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await some_data(client, seed)
    counts = row_counts(sync_engine)
    assert (await invoke("backup", str(tmp_path / "backup"))).exit_code == 0
    use_database(monkeypatch, tmp_path / "restored")
    assert (await invoke("restore", str(tmp_path / "backup"))).exit_code == 0
    with restored_engine.begin() as conn:
        conn.execute(table("login_throttle").delete())
        conn.execute(table("materials").delete())

    refused = await invoke("restore", str(tmp_path / "backup"))
    assert refused.exit_code == 1
    assert "already exists and is not empty" in refused.output and "--force" in refused.output
    assert row_counts(restored_engine)["materials"] == 0

    forced = await invoke("restore", "--force", str(tmp_path / "backup"))
    assert forced.exit_code == 0, forced.output
    assert row_counts(restored_engine) == counts


@pytest.mark.parametrize("damage", ["file", "database", "missing file", "manifest"])
async def test_restore_checks_every_hash_before_putting_anything_in_place(
        damage: str, sqlite_settings: Settings, client: httpx.AsyncClient, seed: Seed, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    await some_data(client, seed)
    backup = tmp_path / "backup"
    assert (await invoke("backup", str(backup))).exit_code == 0
    files = sorted(p for p in (backup / "files").rglob("*") if p.is_file())
    if damage == "file":
        files[-1].write_bytes(files[-1].read_bytes() + b"\0")
    elif damage == "database":
        with (backup / "mtb.sqlite3").open("ab") as db:
            db.write(b"\0")
    elif damage == "missing file":
        files[0].unlink()
    else:
        (backup / "manifest.json").unlink()

    restored = use_database(monkeypatch, tmp_path / "restored")
    result = await invoke("restore", str(backup))
    assert result.exit_code == 1
    expected = {"file": "sha256 differs from the manifest", "database": "mtb.sqlite3: sha256 differs",
                "missing file": "missing", "manifest": "not a complete backup"}[damage]
    assert expected in result.output
    assert not (tmp_path / "restored" / "mtb.sqlite3").exists()
    assert not restored.storage_path.exists()


async def test_backup_refuses_when_a_material_file_is_missing(
        sqlite_settings: Settings, client: httpx.AsyncClient, seed: Seed, tmp_path: Path) -> None:
    await some_data(client, seed)
    next(p for p in sqlite_settings.storage_path.rglob("*") if p.is_file()).unlink()
    result = await invoke("backup", str(tmp_path / "backup"))
    assert result.exit_code == 1
    assert "missing or damaged" in result.output and "mtb doctor" in result.output
    assert list((tmp_path / "backup").iterdir()) == []
