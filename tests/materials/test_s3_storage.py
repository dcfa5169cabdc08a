"""Material files in S3-compatible object storage (issue 10), on a real S3 API over HTTP (moto's server, or
the one MTB_TEST_S3_ENDPOINT names): the storage itself, uploads and downloads through the API, the
garbage collector, `mtb storage migrate` both ways with hash checks, `mtb doctor`, and `mtb backup`'s
refusal. Every test here keeps its files under a prefix of its own in one bucket.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

from mtb.app import create_app
from mtb.applications.models import ApplicationEvent
from mtb.cli import app as cli
from mtb.identity.models import StaffRole
from mtb.jobs import collect_garbage
from mtb.materials.location import S3Location, parse_storage_url
from mtb.materials.models import Material
from mtb.materials.s3 import S3Storage
from mtb.materials.storage import LocalStorage, Received, Storage, StorageUnavailable
from mtb.materials.stores import make_storage, storage_at
from mtb.settings import Settings, get_settings
from mtb.timeutil import utcnow
from tests.applications.helpers import BEIJING_SELF, create, upload
from tests.factories import Seed
from tests.files import document_photo, pdf
from tests.storage import s3_prefix_for_test, s3_variables, stored_names, write_raw
from tests.web.helpers import as_staff

BUCKET = "mtb-s3-tests"
runner = CliRunner()


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def settings(settings: Settings, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch,
             request: pytest.FixtureRequest) -> Iterator[Settings]:
    """The suite's settings with the material files in the bucket, under a fresh prefix."""
    url = s3_prefix_for_test(request, s3_endpoint, BUCKET, "t")
    for key, value in ({"MTB_STORAGE_URL": url} | s3_variables(s3_endpoint)).items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def storage(settings: Settings) -> S3Storage:
    made = make_storage(settings)
    assert isinstance(made, S3Storage)
    return made


def spooled(storage: S3Storage, content: bytes) -> Received:
    """A file as `receive` leaves it: in the spool, with its hash and size."""
    storage.tmp.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=storage.tmp, prefix="up-")
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    return Received(Path(name), sha(content), len(content))


def read(storage: Storage, sha256: str) -> bytes:
    opened = storage.open(sha256)
    try:
        data = opened.stream.read()
    finally:
        opened.stream.close()
    assert len(data) == opened.size
    return data


async def invoke(*args: str) -> Result:
    """The CLI runs its own event loop, so it runs in a thread of its own here."""
    return await anyio.to_thread.run_sync(lambda: runner.invoke(cli, list(args)))


# --- the storage ------------------------------------------------------------------------------------

def test_urls_choose_the_storage(settings: Settings, tmp_path: Path) -> None:
    assert parse_storage_url("s3://bucket/a/b/") == S3Location("bucket", "a/b/")
    assert parse_storage_url("s3://bucket") == S3Location("bucket", "")
    assert parse_storage_url("file:///srv/files") == Path("/srv/files")
    assert parse_storage_url("var/files") == Path("var/files")
    for bad in ("s3:///prefix", "gs://bucket/x", "file://"):
        with pytest.raises(ValueError):
            parse_storage_url(bad)
    with pytest.raises(ValidationError, match="gs://bucket"):
        Settings(storage_url="gs://bucket")
    local = storage_at(f"file://{tmp_path}", settings)
    assert isinstance(local, LocalStorage) and local.root == tmp_path
    assert isinstance(make_storage(Settings(storage_path=tmp_path, storage_url=None)), LocalStorage)
    assert isinstance(make_storage(settings), S3Storage)


def test_put_open_dedupe_list_delete(storage: S3Storage) -> None:
    content = document_photo(seed=11)
    first = spooled(storage, content)
    assert storage.put(first) is True
    assert not first.path.exists()
    head = storage.client.head_object(Bucket=BUCKET, Key=storage.key(first.sha256))
    digest = first.sha256
    assert storage.key(digest) == f"{storage.location.prefix}{digest[:2]}/{digest[2:4]}/{digest}"
    assert head["ContentLength"] == len(content) and head["Metadata"]["sha256"] == first.sha256
    assert read(storage, first.sha256) == content
    [listed] = storage.stored()
    assert (listed.sha256, listed.size) == (first.sha256, len(content))

    # The same content again is not uploaded again, but its grace period starts over.
    time.sleep(1.1)  # LastModified has whole seconds
    again = spooled(storage, content)
    assert storage.put(again) is False
    assert not again.path.exists()
    [renewed] = storage.stored()
    assert renewed.modified > listed.modified
    assert read(storage, first.sha256) == content

    # Keys of another shape under the prefix are not material files.
    storage.client.put_object(Bucket=BUCKET, Key=f"{storage.location.prefix}notes.txt", Body=b"x")
    storage.client.put_object(Bucket=BUCKET, Key=f"{storage.location.prefix}ff/ff/{first.sha256}", Body=b"x")
    assert stored_names(storage) == [first.sha256]

    assert storage.delete(first.sha256, untouched_since=renewed.modified - 60) is False  # used since
    assert storage.delete(first.sha256) is True
    assert storage.delete(first.sha256) is False
    with pytest.raises(FileNotFoundError):
        storage.open(first.sha256)
    assert stored_names(storage) == []


def test_a_file_past_the_multipart_threshold_streams_intact(storage: S3Storage) -> None:
    content = os.urandom(9 * 1024 * 1024 + 17)
    assert storage.put(spooled(storage, content)) is True
    assert read(storage, sha(content)) == content
    assert [f.size for f in storage.stored()] == [len(content)]


def test_an_unreachable_store_is_unavailable_and_leaves_nothing(settings: Settings, tmp_path: Path) -> None:
    down = storage_at(settings.storage_url or "", settings.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:9"}))
    assert isinstance(down, S3Storage)
    received = spooled(down, b"some bytes")
    with pytest.raises(StorageUnavailable) as caught:
        down.put(received)
    assert caught.value.status_code == 503 and caught.value.code == "storage_unavailable"
    assert not received.path.exists()
    with pytest.raises(StorageUnavailable):
        list(down.stored())


# --- through the API --------------------------------------------------------------------------------

@pytest.fixture
async def draft(client: httpx.AsyncClient, seed: Seed) -> tuple[str, dict[str, str]]:
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    return (await create(client, headers, **BEIJING_SELF)).json()["id"], headers


async def test_upload_lands_in_the_bucket_and_downloads_identically(
        client: httpx.AsyncClient, seed: Seed, draft: tuple[str, dict[str, str]], storage: S3Storage,
        settings: Settings) -> None:
    app_id, headers = draft
    content = document_photo(seed=21)
    response = await upload(client, headers, app_id, "diagnosis_certificate", content, name="诊断证明.jpg")
    assert response.status_code == 201, response.text
    material = response.json()
    assert stored_names(storage) == [sha(content)]
    assert read(storage, sha(content)) == content
    assert [p.name for p in settings.storage_path.iterdir()] == ["tmp"] and not any(storage.tmp.iterdir())

    download = await client.get(material["download_url"], headers=headers)
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["content-length"] == str(len(content))
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["cache-control"] == "private, no-store"
    assert download.headers["content-disposition"] == (
        "attachment; filename*=utf-8''%E8%AF%8A%E6%96%AD%E8%AF%81%E6%98%8E.jpg")
    li = await seed.login(await seed.person("li"))
    assert (await client.get(material["download_url"], headers=li)).status_code == 404

    # The reviewer's viewer: the file inline, and a PDF's pages rendered from the bucket.
    form = (await upload(client, headers, app_id, "filing_form", pdf(2), name="form.pdf")).json()
    await as_staff(seed, await seed.staff("bj_reviewer", StaffRole.reviewer))
    inline = await client.get(f"/staff/applications/{app_id}/materials/{form['id']}/file")
    assert inline.status_code == 200 and inline.content.startswith(b"%PDF")
    assert inline.headers["content-disposition"] == 'inline; filename="form.pdf"'
    page = await client.get(f"/staff/applications/{app_id}/materials/{form['id']}/page/2.png")
    assert page.status_code == 200 and page.content.startswith(b"\x89PNG")
    assert not list(storage.tmp.iterdir())  # the page's local copy is gone

    # Every view served is recorded (the applicant's download, the reviewer's file and page image); a file
    # gone from the bucket is a 404, and the look at it is not recorded as a view.
    assert await views(seed) == 3
    storage.delete(sha(content))
    missing = await client.get(material["download_url"], headers=headers)
    assert missing.status_code == 404 and missing.json()["error"] == "material_file_missing"
    assert await views(seed) == 3
    gone = await client.get(f"/staff/applications/{app_id}/materials/{material['id']}/file")
    assert gone.status_code == 404 and await views(seed) == 3


async def views(seed: Seed) -> int:
    async with seed.sessionmaker() as s:
        return (await s.execute(select(func.count()).select_from(ApplicationEvent)
                                .where(ApplicationEvent.action == "material_viewed"))).scalar_one()


async def test_upload_while_the_store_is_down_is_a_503_with_nothing_left(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, sync_engine: Engine) -> None:
    monkeypatch.setenv("MTB_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    app = create_app(get_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mtb.test") as c:
        down = Seed(app.state.sessionmaker, c)
        await down.catalogs()
        headers = await down.login(await down.person("zhang"))
        app_id = (await create(c, headers, **BEIJING_SELF)).json()["id"]
        response = await upload(c, headers, app_id, "diagnosis_certificate", document_photo(seed=3))
    await app.state.engine.dispose()
    assert response.status_code == 503, response.text
    assert response.json() == {"error": "storage_unavailable", "detail": "文件存储暂时不可用，请稍后再试"}
    with sync_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Material)).scalar_one() == 0
    assert not any((settings.storage_path / "tmp").iterdir())


async def test_collector_removes_only_unreferenced_objects_past_the_grace_period(
        client: httpx.AsyncClient, seed: Seed, draft: tuple[str, dict[str, str]], storage: S3Storage,
        settings: Settings) -> None:
    app_id, headers = draft
    kept = (await upload(client, headers, app_id, "diagnosis_certificate", document_photo(seed=31))).json()
    removed = (await upload(client, headers, app_id, "supplementary", document_photo(seed=32))).json()
    assert (await client.delete(f"/api/v1/applications/{app_id}/materials/{removed['id']}",
                                headers=headers)).status_code == 204
    orphan = b"an upload whose row never committed"
    write_raw(storage, sha(orphan), orphan)

    async def collect(minutes_later: int) -> int:
        async with seed.sessionmaker() as s:
            return await collect_garbage(s, storage, utcnow() + timedelta(minutes=minutes_later),
                                         settings.storage_gc_grace_minutes)

    assert await collect(0) == 0
    assert len(stored_names(storage)) == 3
    assert await collect(61) == 2
    assert stored_names(storage) == [kept["sha256"]]
    assert (await client.get(kept["download_url"], headers=headers)).status_code == 200


# --- migrate, doctor, backup ------------------------------------------------------------------------

async def some_materials(client: httpx.AsyncClient, seed: Seed) -> dict[str, bytes]:
    """Three materials of zhang's application (one file used twice), by sha256."""
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    files = {"diagnosis_certificate": document_photo(seed=41), "filing_form": pdf(2),
             "supplementary": document_photo(seed=41)}
    for kind, content in files.items():
        assert (await upload(client, headers, app_id, kind, content)).status_code == 201
    return {sha(c): c for c in files.values()}


def hashes(root: Path) -> dict[str, str]:
    return {p.name: sha(p.read_bytes()) for p in root.glob("??/??/*")}


async def test_migrate_s3_to_local_and_back_checks_every_hash_and_is_idempotent(
        client: httpx.AsyncClient, seed: Seed, storage: S3Storage, settings: Settings,
        tmp_path: Path) -> None:
    materials = await some_materials(client, seed)
    orphan = b"stored, not referenced"
    write_raw(storage, sha(orphan), orphan)
    source = settings.storage_url or ""

    local = tmp_path / "local"
    to_local = await invoke("storage", "migrate", "--from", source, "--to", f"file://{local}")
    assert to_local.exit_code == 0, to_local.output
    assert f"3 files from {source} to {local}: 3 copied" in to_local.output and "0 failed" in to_local.output
    assert hashes(local) == {s: s for s in [*materials, sha(orphan)]}
    again = await invoke("storage", "migrate", "--from", source, "--to", str(local))
    assert again.exit_code == 0 and "0 copied (0 bytes), 3 already there intact, 0 failed" in again.output

    back = f"{source}copy"
    to_s3 = await invoke("storage", "migrate", "--from", str(local), "--to", back)
    assert to_s3.exit_code == 0, to_s3.output
    assert "3 copied" in to_s3.output
    copy = storage_at(back, settings)
    assert stored_names(copy) == sorted([*materials, sha(orphan)])
    assert all(read(copy, s) == c for s, c in materials.items())
    assert not list(settings.storage_path.joinpath("tmp").glob("up-*"))

    same = await invoke("storage", "migrate", "--from", back, "--to", f"{back}/")
    assert same.exit_code == 1 and "same storage" in same.output


async def test_migrate_reports_a_damaged_or_missing_source_and_repairs_a_damaged_copy(
        client: httpx.AsyncClient, seed: Seed, storage: S3Storage, settings: Settings,
        tmp_path: Path) -> None:
    materials = await some_materials(client, seed)
    photo, form = sorted(materials, key=lambda s: materials[s].startswith(b"%PDF"))
    source = settings.storage_url or ""
    local = tmp_path / "local"
    assert (await invoke("storage", "migrate", "--from", source, "--to", str(local))).exit_code == 0

    # A damaged copy in the destination is found and replaced.
    LocalStorage(local).path_for(form).write_bytes(b"damaged copy")
    repaired = await invoke("storage", "migrate", "--from", source, "--to", str(local))
    assert repaired.exit_code == 0, repaired.output
    assert "1 copied" in repaired.output and "1 already there intact" in repaired.output
    assert hashes(local)[form] == form

    # A damaged or missing object in the source is reported, not copied; the rest is copied; exit 1.
    write_raw(storage, photo, b"spoiled in the bucket")
    elsewhere = tmp_path / "elsewhere"
    result = await invoke("storage", "migrate", "--from", source, "--to", str(elsewhere))
    assert result.exit_code == 1, result.output
    spoiled = sha(b"spoiled in the bucket")
    assert f"{photo}: damaged in the source: its content hashes to {spoiled}; not copied" in result.output
    assert "2 files" in result.output and "1 copied" in result.output and "1 failed" in result.output
    assert "storage migrate incomplete: 1 file(s)" in result.output
    assert list(hashes(elsewhere)) == [form]
    storage.delete(photo)
    gone = await invoke("storage", "migrate", "--from", source, "--to", str(tmp_path / "third"))
    assert gone.exit_code == 1 and f"{photo}: missing in the source" in gone.output


async def test_doctor_checks_the_bucket(client: httpx.AsyncClient, seed: Seed, storage: S3Storage) -> None:
    materials = await some_materials(client, seed)
    healthy = await invoke("doctor")
    assert healthy.exit_code == 0, healthy.output
    assert f"storage: {storage.location}" in healthy.output
    assert "materials: 3 rows, 2 files checked" in healthy.output

    photo, form = sorted(materials, key=lambda s: materials[s].startswith(b"%PDF"))
    storage.delete(photo)
    write_raw(storage, form, b"not the form any more")
    write_raw(storage, sha(b"orphan"), b"orphan")
    broken = await invoke("doctor")
    assert broken.exit_code == 1, broken.output
    assert "missing files: 2 rows; corrupt files: 1 rows" in broken.output
    assert "orphan files: 1 (6 bytes), 0 untouched for 60 min" in broken.output
    assert f"(sha256 {form})" in broken.output


def test_backup_and_restore_refuse_object_storage(settings: Settings, tmp_path: Path) -> None:
    for args in (["backup", str(tmp_path / "b")], ["restore", str(tmp_path)]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert "object storage" in result.output and "versioning and replication" in result.output
    assert not (tmp_path / "b").exists()
