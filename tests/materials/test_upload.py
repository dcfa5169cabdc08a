"""Uploading materials: type by content, limits, image and PDF checks, storage, download, removal.

domain.md: "Files are PDF or JPG, photographed or scanned on the phone, and must be clear and complete."
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from mtb.app import create_app
from mtb.jobs import collect_garbage
from mtb.materials.inspect import NOT_A_DOCUMENT
from mtb.materials.models import Material
from mtb.materials.stores import make_storage
from mtb.settings import Settings, get_settings
from mtb.timeutil import utcnow
from tests.applications.helpers import BEIJING_SELF, HUBEI, create, upload
from tests.apps import app_with
from tests.factories import Seed
from tests.files import document_photo, encrypted_pdf, noise_png, pdf, png_header_only
from tests.storage import stored_names
from tests.web.helpers import as_person, post_form


def stored_files(settings: Settings) -> list[str]:
    """The sha256 of every stored file (in the directory or the bucket), not the upload spool."""
    return stored_names(make_storage(settings))


def material_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Material)).scalar_one()


@pytest.fixture
async def draft(client: httpx.AsyncClient, seed: Seed) -> tuple[str, dict[str, str]]:
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    app = (await create(client, headers, **BEIJING_SELF)).json()
    return app["id"], headers


async def test_photo_is_stored_by_hash_and_downloads_identically(
        client: httpx.AsyncClient, seed: Seed, draft: tuple[str, dict[str, str]], settings: Settings) -> None:
    app_id, headers = draft
    content = document_photo()
    response = await upload(client, headers, app_id, "diagnosis_certificate", content, name="../../etc/诊断证明.jpg")
    assert response.status_code == 201, response.text
    material = response.json()
    assert material["content_type"] == "image/jpeg" and material["size"] == len(content)
    assert material["file_name"] == "诊断证明.jpg" and material["warnings"] == []
    assert (material["width"], material["height"]) == (1600, 1200)
    files = stored_files(settings)
    assert files == [material["sha256"]]
    download = await client.get(material["download_url"], headers=headers)
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["x-content-type-options"] == "nosniff"
    li = await seed.login(await seed.person("li"))
    assert (await client.get(material["download_url"], headers=li)).status_code == 404


async def test_type_is_judged_by_content_not_name(client: httpx.AsyncClient, draft: tuple[str, dict[str, str]],
                                                  settings: Settings, sync_engine: Engine) -> None:
    app_id, headers = draft
    for content, name in ((b"<html><script>alert(1)</script></html>", "x.jpg"), (b"just text", "x.pdf"),
                          (b"", "empty.pdf"), (b"GIF89a" + b"\x00" * 100, "x.png")):
        response = await upload(client, headers, app_id, "diagnosis_certificate", content, name=name)
        assert response.status_code == 415, (name, response.text)
        assert response.json() == {"error": "unsupported_file_type", "detail": NOT_A_DOCUMENT}
    # A real PDF named .jpg is a PDF.
    ok = await upload(client, headers, app_id, "filing_form", pdf(3), name="form.jpg")
    assert ok.status_code == 201 and ok.json()["content_type"] == "application/pdf" and ok.json()["pages"] == 3
    assert ok.json()["file_name"] == "form.pdf"
    assert material_rows(sync_engine) == 1 and len(stored_files(settings)) == 1


async def test_bad_pdfs_and_images_are_refused_and_leave_nothing(
        client: httpx.AsyncClient, draft: tuple[str, dict[str, str]], settings: Settings,
        sync_engine: Engine) -> None:
    app_id, headers = draft
    truncated = document_photo()[:5000]
    cases = [
        (encrypted_pdf(), "pdf_encrypted", 422),
        (pdf(settings.max_pdf_pages + 1), "pdf_too_many_pages", 422),
        (b"%PDF-1.7\n" + b"garbage" * 50, "pdf_unreadable", 422),
        (truncated, "image_unreadable", 422),
        (png_header_only(60000, 60000), "image_too_large", 422),
        (document_photo(200, 150), "image_resolution_too_low", 422),
    ]
    for content, code, status in cases:
        response = await upload(client, headers, app_id, "diagnosis_certificate", content)
        assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert material_rows(sync_engine) == 0
    assert stored_files(settings) == []


async def test_blurred_or_small_photo_is_accepted_with_a_warning(
        client: httpx.AsyncClient, draft: tuple[str, dict[str, str]]) -> None:
    """Issue 3: "a blurred or tiny photo is accepted with a warning the applicant sees (照片可能不清晰)"."""
    app_id, headers = draft
    blurred = await upload(client, headers, app_id, "diagnosis_certificate", document_photo(blur=6))
    assert blurred.status_code == 201
    assert [w["code"] for w in blurred.json()["warnings"]] == ["photo_may_be_unclear"]
    assert "照片可能不清晰" in blurred.json()["warnings"][0]["message"]
    small = await upload(client, headers, app_id, "supplementary", document_photo(800, 640, fmt="PNG"))
    assert small.status_code == 201 and [w["code"] for w in small.json()["warnings"]] == ["photo_resolution_low"]
    shown = (await client.get(f"/api/v1/applications/{app_id}", headers=headers)).json()
    assert {m["warnings"][0]["code"] for m in shown["materials"]} == {"photo_may_be_unclear", "photo_resolution_low"}


async def test_size_and_count_limits(settings: Settings, monkeypatch: pytest.MonkeyPatch, sync_engine: Engine) -> None:
    monkeypatch.setenv("MTB_MAX_UPLOAD_BYTES", "300000")
    monkeypatch.setenv("MTB_MAX_FILES_PER_APPLICATION", "2")
    get_settings.cache_clear()
    app = create_app(get_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mtb.test") as c:
        limited = Seed(app.state.sessionmaker, c)
        await limited.catalogs()
        headers = await limited.login(await limited.person("zhang"))
        app_id = (await create(c, headers, **BEIJING_SELF)).json()["id"]
        # Refused by its Content-Length before it is read, and while it is read (within that margin).
        for size in (700, 380):
            big = noise_png(size, size)
            assert len(big) > 300000
            too_big = await upload(c, headers, app_id, "diagnosis_certificate", big)
            assert too_big.status_code == 413 and too_big.json()["error"] == "file_too_large"
        for _ in range(2):
            assert (await upload(c, headers, app_id, "supplementary", document_photo(1000, 800))).status_code == 201
        third = await upload(c, headers, app_id, "supplementary", document_photo(1000, 800, seed=3))
        assert third.status_code == 422 and third.json()["error"] == "too_many_files"
    await app.state.engine.dispose()
    assert material_rows(sync_engine) == 2
    # The two accepted photos are the same content (one stored file); the refused third was not stored.
    assert len(stored_files(get_settings())) == 1
    tmp = get_settings().storage_path / "tmp"
    assert not any(tmp.iterdir())


async def test_kinds_and_fields_come_from_the_catalog(client: httpx.AsyncClient, seed: Seed,
                                                      draft: tuple[str, dict[str, str]]) -> None:
    app_id, headers = draft
    unknown = await upload(client, headers, app_id, "identity_front")
    assert unknown.status_code == 422 and unknown.json()["error"] == "material_kind_unknown"
    bad_title = await upload(client, headers, app_id, "diagnosis_certificate", physician_title="教授")
    assert bad_title.status_code == 422 and bad_title.json()["error"] == "physician_title_invalid"
    ok = await upload(client, headers, app_id, "diagnosis_certificate", physician_title="chief")
    assert ok.status_code == 201 and ok.json()["fields"] == {"physician_title": "chief"}
    zh = await seed.login(await seed.person("zhao"))
    hubei = (await create(client, zh, **HUBEI)).json()["id"]
    generated = await upload(client, zh, hubei, "application_form")
    assert generated.status_code == 422 and generated.json()["error"] == "material_generated"


async def collect(seed: Seed, settings: Settings, *, minutes_later: int) -> int:
    async with seed.sessionmaker() as s:
        return await collect_garbage(s, make_storage(settings),
                                     utcnow() + timedelta(minutes=minutes_later), settings.storage_gc_grace_minutes)


async def test_remove_and_replace_only_while_editable(client: httpx.AsyncClient, seed: Seed,
                                                      draft: tuple[str, dict[str, str]],
                                                      settings: Settings, sync_engine: Engine) -> None:
    app_id, headers = draft
    first = (await upload(client, headers, app_id, "diagnosis_certificate", document_photo(seed=1))).json()
    # Replacing with a bad file fails and keeps the old material and its file.
    failed = await client.put(f"/api/v1/applications/{app_id}/materials/{first['id']}", headers=headers,
                              files={"file": ("x.jpg", b"not an image", "image/jpeg")})
    assert failed.status_code == 415
    assert stored_files(settings) == [first["sha256"]]
    replaced = await client.put(f"/api/v1/applications/{app_id}/materials/{first['id']}", headers=headers,
                                files={"file": ("new.jpg", document_photo(seed=2), "image/jpeg")})
    assert replaced.status_code == 200 and replaced.json()["kind"] == "diagnosis_certificate"
    # The old file goes when the garbage collector finds it unreferenced after its grace period.
    assert len(stored_files(settings)) == 2
    assert await collect(seed, settings, minutes_later=0) == 0
    assert await collect(seed, settings, minutes_later=61) == 1
    assert stored_files(settings) == [replaced.json()["sha256"]]
    deleted = await client.delete(f"/api/v1/applications/{app_id}/materials/{replaced.json()['id']}", headers=headers)
    assert deleted.status_code == 204
    assert material_rows(sync_engine) == 0
    assert await collect(seed, settings, minutes_later=61) == 1 and stored_files(settings) == []
    missing = await client.delete(f"/api/v1/applications/{app_id}/materials/{first['id']}", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"] == "material_not_found"
    await client.post(f"/api/v1/applications/{app_id}/withdraw", headers=headers)
    late = await upload(client, headers, app_id, "diagnosis_certificate")
    assert late.status_code == 409 and late.json()["error"] == "application_not_editable"


async def test_same_content_twice_is_stored_once_and_kept_while_used(
        client: httpx.AsyncClient, seed: Seed, draft: tuple[str, dict[str, str]], settings: Settings) -> None:
    app_id, headers = draft
    content = document_photo(seed=5)
    a = (await upload(client, headers, app_id, "diagnosis_certificate", content)).json()
    b = (await upload(client, headers, app_id, "supplementary", content)).json()
    assert a["sha256"] == b["sha256"] and len(stored_files(settings)) == 1
    await client.delete(f"/api/v1/applications/{app_id}/materials/{a['id']}", headers=headers)
    # Replacing a material with the very same file keeps the file too.
    same = await client.put(f"/api/v1/applications/{app_id}/materials/{b['id']}", headers=headers,
                            files={"file": ("again.jpg", content, "image/jpeg")})
    assert same.status_code == 200
    assert await collect(seed, settings, minutes_later=61) == 0
    assert (await client.get(same.json()["download_url"], headers=headers)).content == content


async def test_many_uploads_at_once_do_not_starve_the_connection_pool(
        client: httpx.AsyncClient, draft: tuple[str, dict[str, str]]) -> None:
    """Each upload holds its request's connection while the upload counter commits on the side: more
    uploads at once than the pool has connections must all be answered (they once waited for each other
    until the pool's timeout and failed with 500)."""
    app_id, headers = draft
    answers = await asyncio.gather(*(
        upload(client, headers, app_id, "diagnosis_certificate", document_photo(seed=100 + i), name=f"{i}.jpg")
        for i in range(18)))
    assert [a.status_code for a in answers] == [201] * 18, [a.text for a in answers if a.status_code != 201]


async def test_a_replacement_at_the_limit_of_files_is_accepted_on_the_api_and_the_page(
        settings: Settings, monkeypatch: pytest.MonkeyPatch, sync_engine: Engine) -> None:
    """A clearer copy of a material replaces it (materials/service.py replace_material): the file it replaces
    is not counted against MTB_MAX_FILES_PER_APPLICATION, the kind stays the material's (the page's form
    names a kind too: not taken), and the old row goes in the same transaction. A new file at the limit is
    still refused."""
    async with app_with(monkeypatch, MTB_MAX_FILES_PER_APPLICATION="2") as limited:
        c = limited.client
        await limited.catalogs()
        zhang = await limited.person("zhang")
        headers = await limited.login(zhang)
        app_id = (await create(c, headers, **BEIJING_SELF)).json()["id"]
        first = await upload(c, headers, app_id, "diagnosis_certificate", document_photo(1000, 800, seed=1))
        second = await upload(c, headers, app_id, "supplementary", document_photo(1000, 800, seed=2))
        assert (first.status_code, second.status_code) == (201, 201)
        more = await upload(c, headers, app_id, "supplementary", document_photo(1000, 800, seed=3))
        assert more.status_code == 422 and more.json()["error"] == "too_many_files"

        by_api = await c.put(f"/api/v1/applications/{app_id}/materials/{first.json()['id']}", headers=headers,
                             files={"file": ("clear.jpg", document_photo(1000, 800, seed=4), "image/jpeg")})
        assert by_api.status_code == 200, by_api.text
        assert by_api.json()["kind"] == "diagnosis_certificate"

        await as_person(limited, zhang)
        by_page = await post_form(c, f"/applications/{app_id}/materials",
                                  {"kind": "filing_form", "replace": second.json()["id"]},
                                  files={"file": ("clear.jpg", document_photo(1000, 800, seed=5), "image/jpeg")})
        assert by_page.status_code == 303, by_page.text
        kinds = sorted(m["kind"] for m in (await c.get(f"/api/v1/applications/{app_id}", headers=headers)
                                           ).json()["materials"])
    assert kinds == ["diagnosis_certificate", "supplementary"]
    assert material_rows(sync_engine) == 2
