"""The pre-review job on real OCR of the fixed images: findings in the application for staff, the
applicant's warning for an unreadable photo, the fast track, and the job's own rules (idempotent, one
worker per row, no engine)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from mtb import jobs
from mtb.applications.models import Application
from mtb.catalog.loader import ParsedCatalog
from mtb.identity.models import StaffRole
from mtb.prereview import service
from mtb.prereview.fasttrack import blockers, sweep
from mtb.prereview.models import MaterialPrereview
from mtb.prereview.ocr import NoOcr, RapidOcr
from mtb.qualifications.models import Qualification
from mtb.settings import Settings
from tests.applications.helpers import BEIJING_SELF, HUBEI, create, submit
from tests.factories import Person, Seed, reference_catalogs
from tests.files import document_photo, pdf
from tests.prereview.conftest import IMAGES, RememberingEngine, image_bytes, needs_ocr
from tests.review.helpers import claim
from tests.web.helpers import as_person, as_staff

pytestmark = needs_ocr
RULE = "fast_track:110000/2025.2-test/BJ-TUMOR-CHEMO"


async def fast_track_catalog(seed: Seed) -> None:
    """The reference catalogs, and a later Beijing version in which an administrator turned the fast
    track on for chemotherapy (the shipped catalog keeps it off)."""
    refs = list(reference_catalogs())
    doc = next(c.document for c in refs if c.document.region.code == "110000")
    diseases = [d.model_copy(update={"fast_track": d.code == "BJ-TUMOR-CHEMO"}) for d in doc.diseases]
    variant = doc.model_copy(
        update={"version": "2025.2-test", "effective_from": date(2025, 3, 1), "diseases": diseases}
    )
    await seed.catalogs(refs + [ParsedCatalog(file="fast-track.yaml", document=variant, sha256="0" * 64)])


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    app_id: str,
    kind: str,
    name: str,
    content: bytes | None = None,
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/applications/{app_id}/materials",
        headers=headers,
        data={"kind": kind},
        files={"file": (name, content or image_bytes(name), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def beijing(
    client: httpx.AsyncClient, seed: Seed, certificate: str, form: str | None = "form-zhang.jpg"
) -> tuple[str, dict[str, str], Person]:
    """Zhang's chemotherapy application at 北京协和医院 with the given certificate (and filing form)."""
    zhang = await seed.person("zhang")
    zh = await seed.login(zhang)
    app_id = (await create(client, zh, **BEIJING_SELF)).json()["id"]
    await upload(client, zh, app_id, "diagnosis_certificate", certificate)
    if form:
        await upload(client, zh, app_id, "filing_form", form)
    return app_id, zh, zhang


def findings(view: dict[str, Any], kind: str) -> dict[str, tuple[str, str | None]]:
    material = next(m for m in view["prereview"]["materials"] if m["kind"] == kind)
    return {f["field"]: (f["outcome"], f["found"]) for f in material["findings"]}


async def test_another_persons_certificate_is_flagged_and_never_fast_tracked(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any, ocr_engine: RememberingEngine
) -> None:
    clock.set("2025-06-02")
    await fast_track_catalog(seed)
    reviewer = await seed.staff("rev", StaffRole.reviewer)
    app_id, zh, _zhang = await beijing(client, seed, "cert-li-for-zhang.jpg")
    assert await service.run_pending(seed.sessionmaker, settings, engine=ocr_engine) == 2

    staff_view = (
        await client.get(f"/api/v1/applications/{app_id}", headers=await seed.staff_login(reviewer))
    ).json()
    found = findings(staff_view, "diagnosis_certificate")
    assert found["name"] == ("mismatch", "李四")
    assert found["id_number"][0] == "mismatch" and found["id_number"][1] == "**************902X"
    assert set(o for o, _ in findings(staff_view, "filing_form").values()) == {"match"}
    assert staff_view["prereview"]["all_match"] is False
    assert (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["prereview"] is None

    assert (await submit(client, zh, app_id)).status_code == 200
    assert await sweep(seed.sessionmaker, settings) == 0
    assert (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["status"] == "submitted"
    async with seed.sessionmaker() as s:
        app = await s.get(Application, uuid.UUID(app_id))
        assert app is not None
        assert any("不一致" in b for b in await blockers(s, app))

    await as_staff(seed, reviewer)  # the workbench shows the findings next to the material
    page = (await client.get(f"/staff/applications/{app_id}")).text
    assert "自动预审" in page and "姓名：不一致（识别为“李四”）" in page


async def test_a_clean_beijing_chemotherapy_application_is_approved_by_the_rule(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any, ocr_engine: RememberingEngine
) -> None:
    clock.set("2025-06-02")
    await fast_track_catalog(seed)
    admin = await seed.staff("adm", StaffRole.admin)
    app_id, zh, _zhang = await beijing(client, seed, "cert-zhang.jpg")
    # Submission does not wait for the pre-review: the application waits in the queue meanwhile.
    assert (await submit(client, zh, app_id)).status_code == 200
    assert await sweep(seed.sessionmaker, settings) == 0
    always_sampled = settings.model_copy(update={"fasttrack_sample_rate": 1.0})
    assert (
        await service.run_pending(seed.sessionmaker, always_sampled, engine=ocr_engine) == 2
    )  # then fast-tracks

    seen = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()
    assert seen["status"] == "approved"
    assert [(t["to_status"], t["actor_kind"]) for t in seen["timeline"]] == [
        ("draft", "person"),
        ("submitted", "person"),
        ("in_review", "system"),
        ("approved", "system"),
    ]
    assert RULE in seen["timeline"][-1]["reason"] and RULE in seen["decision"]["note"]
    assert seen["decision"]["outcome"] == "approve"

    ad = await seed.staff_login(admin)
    staff_view = (await client.get(f"/api/v1/applications/{app_id}", headers=ad)).json()
    assert staff_view["prereview"]["all_match"] is True
    history = (await client.get(f"/api/v1/review/applications/{app_id}/history", headers=ad)).json()
    fast = next(h for h in history if h["action"] == "fast_track")
    assert fast["actor_kind"] == "system" and fast["detail"] == {"rule": RULE, "sampled": True}
    samples = (await client.get("/api/v1/review/samples", headers=ad)).json()
    assert [s["application_id"] for s in samples] == [app_id]
    async with seed.sessionmaker() as s:
        filing = (
            await s.execute(select(Qualification).where(Qualification.application_id == uuid.UUID(app_id)))
        ).scalar_one()
        assert filing.status == "active" and filing.hospital_code == "BJ-EX-0001"
    await as_staff(seed, admin)
    assert "快速通道自动审核通过" in (await client.get(f"/staff/applications/{app_id}")).text


async def test_the_shipped_catalog_keeps_the_fast_track_off(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any, ocr_engine: RememberingEngine
) -> None:
    clock.set("2025-06-02")
    await seed.catalogs()
    assert not any(d.fast_track for c in reference_catalogs() for d in c.document.diseases)
    app_id, zh, _zhang = await beijing(client, seed, "cert-zhang.jpg")
    await service.run_pending(seed.sessionmaker, settings, engine=ocr_engine)
    assert (await submit(client, zh, app_id)).status_code == 200
    assert await sweep(seed.sessionmaker, settings) == 0
    assert (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["status"] == "submitted"


async def test_a_reviewer_who_claims_first_keeps_the_application(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any, ocr_engine: RememberingEngine
) -> None:
    clock.set("2025-06-02")
    await fast_track_catalog(seed)
    reviewer = await seed.staff("rev", StaffRole.reviewer)
    app_id, zh, _zhang = await beijing(client, seed, "cert-zhang.jpg")
    assert (await submit(client, zh, app_id)).status_code == 200
    assert (await claim(client, await seed.staff_login(reviewer), app_id)).status_code == 200
    await service.run_pending(seed.sessionmaker, settings, engine=ocr_engine)
    assert await sweep(seed.sessionmaker, settings) == 0
    assert (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["status"] == "in_review"


async def test_an_unreadable_photo_tells_the_applicant_to_retake_it(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any, ocr_engine: RememberingEngine
) -> None:
    clock.set("2025-06-02")
    await seed.catalogs()
    app_id, zh, zhang = await beijing(client, seed, "cert-zhang-blurred.jpg", form=None)
    await service.run_pending(seed.sessionmaker, settings, engine=ocr_engine)
    material = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["materials"][0]
    assert {"code": "prereview_unreadable", "message": "无法识别，请重新拍摄"} in material["warnings"]
    await as_person(seed, zhang)
    assert "无法识别，请重新拍摄" in (await client.get(f"/applications/{app_id}")).text


async def test_the_same_file_is_read_once_and_findings_follow_their_material(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any, ocr_engine: RememberingEngine
) -> None:
    clock.set("2025-06-02")
    await seed.catalogs()
    app_id, zh, _zhang = await beijing(client, seed, "cert-zhang-radio.jpg", form=None)
    assert await service.run_pending(seed.sessionmaker, settings, engine=ocr_engine) == 1
    assert await service.run_pending(seed.sessionmaker, settings, engine=ocr_engine) == 0  # nothing twice
    calls = ocr_engine.calls
    material = (await client.get(f"/api/v1/applications/{app_id}", headers=zh)).json()["materials"][0]
    replaced = await client.put(
        f"/api/v1/applications/{app_id}/materials/{material['id']}",
        headers=zh,
        files={"file": ("again.jpg", image_bytes("cert-zhang-radio.jpg"), "image/jpeg")},
    )
    assert replaced.status_code == 200, replaced.text
    assert await service.run_pending(seed.sessionmaker, settings, engine=ocr_engine) == 1
    assert ocr_engine.calls == calls  # the same bytes for the same application: fields reused, no OCR
    reviewer = await seed.staff("rev", StaffRole.reviewer)
    view = (
        await client.get(f"/api/v1/applications/{app_id}", headers=await seed.staff_login(reviewer))
    ).json()
    assert [m["material_id"] for m in view["prereview"]["materials"]] == [replaced.json()["id"]]
    assert findings(view, "diagnosis_certificate")["diagnosis"][0] == "mismatch"  # 高血压, not chemotherapy
    deleted = await client.delete(
        f"/api/v1/applications/{app_id}/materials/{replaced.json()['id']}", headers=zh
    )
    assert deleted.status_code == 204
    view = (
        await client.get(f"/api/v1/applications/{app_id}", headers=await seed.staff_login(reviewer))
    ).json()
    assert view["prereview"]["materials"] == []
    async with seed.sessionmaker() as s:  # kept without their material, for a file uploaded again
        assert [r.material_id for r in (await s.execute(select(MaterialPrereview))).scalars()] == [None, None]


async def test_hubei_identity_card_and_a_certificate_without_its_seal(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, clock: Any, ocr_engine: RememberingEngine
) -> None:
    clock.set("2025-06-02")
    await seed.catalogs()
    zhao = await seed.person("zhao")
    zh = await seed.login(zhao)
    app_id = (await create(client, zh, **HUBEI)).json()["id"]
    await upload(client, zh, app_id, "identity_front", "id-front-zhao.jpg")
    await upload(client, zh, app_id, "identity_back", "id-back-zhao.jpg")
    await upload(client, zh, app_id, "diagnosis_certificate", "cert-zhao-noseal.jpg")
    await upload(client, zh, app_id, "medical_records", "records.jpg", document_photo(seed=3))
    response = await client.post(
        f"/api/v1/applications/{app_id}/materials",
        headers=zh,
        data={"kind": "exam_reports"},
        files={"file": ("report.pdf", pdf(1), "application/pdf")},
    )
    assert response.status_code == 201
    assert (
        await service.run_pending(seed.sessionmaker, settings, engine=ocr_engine) == 3
    )  # the kinds it reads
    reviewer = await seed.staff("rev_snj", StaffRole.reviewer, region_code="429021")
    view = (
        await client.get(f"/api/v1/applications/{app_id}", headers=await seed.staff_login(reviewer))
    ).json()
    assert findings(view, "identity_front") == {
        "name": ("match", "赵六"),
        "id_number": ("match", "**************9041"),
        "sex": ("match", "女"),
        "birth_date": ("match", "1960年"),
    }
    assert findings(view, "identity_back")["valid_until"][0] == "match"
    certificate = findings(view, "diagnosis_certificate")
    assert certificate.pop("seal") == ("mismatch", "未见红色印章")
    assert {o for o, _ in certificate.values()} == {"match"}


async def test_without_an_engine_the_prereview_says_so_and_runs_once_there_is_one(
    client: httpx.AsyncClient,
    seed: Seed,
    settings: Settings,
    clock: Any,
    ocr_engine: RememberingEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.set("2025-06-02")
    await seed.catalogs()
    app_id, _zh, _zhang = await beijing(client, seed, "cert-zhang.jpg", form=None)
    monkeypatch.setattr(service, "load_engine", lambda threads: NoOcr("未安装文字识别组件（mtb[ocr]）"))
    assert (await jobs.run_jobs(seed.sessionmaker, settings)).prereviewed == 0
    reviewer = await seed.staff("rev", StaffRole.reviewer)
    rh = await seed.staff_login(reviewer)
    material = (await client.get(f"/api/v1/applications/{app_id}", headers=rh)).json()["prereview"][
        "materials"
    ][0]
    assert (material["status"], material["findings"]) == ("unavailable", [])
    monkeypatch.setattr(service, "load_engine", lambda threads: ocr_engine)
    assert (await jobs.run_jobs(seed.sessionmaker, settings)).prereviewed == 1
    material = (await client.get(f"/api/v1/applications/{app_id}", headers=rh)).json()["prereview"][
        "materials"
    ][0]
    assert material["status"] == "done" and material["readable"] is True


async def test_one_worker_per_row_and_the_worker_wakes_after_an_upload(
    client: httpx.AsyncClient,
    seed: Seed,
    settings: Settings,
    clock: Any,
    ocr_engine: RememberingEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.set("2025-06-02")
    await seed.catalogs()
    await beijing(client, seed, "cert-zhang.jpg", form=None)
    first = await service._claim(seed.sessionmaker, with_unavailable=False, skip=set())
    assert first is not None and first.status == "running"
    assert (
        await service._claim(seed.sessionmaker, with_unavailable=False, skip=set()) is None
    )  # held by the first
    assert await service.process(seed.sessionmaker, settings, first, ocr_engine)

    monkeypatch.setattr(service, "load_engine", lambda threads: ocr_engine)
    worker = asyncio.create_task(
        service.worker(seed.sessionmaker, settings.model_copy(update={"jobs_interval_seconds": 3600}))
    )
    try:
        await asyncio.sleep(0.1)  # the worker's first (empty) round
        li = await seed.person("li")
        lh = await seed.login(li)
        app_id = (await create(client, lh, **BEIJING_SELF)).json()["id"]
        await upload(client, lh, app_id, "diagnosis_certificate", "cert-li-for-zhang.jpg")
        for _ in range(600):  # woken by the upload's commit, long before the hour of the next period
            async with seed.sessionmaker() as s:
                rows = list(
                    (
                        await s.execute(
                            select(MaterialPrereview.status).where(
                                MaterialPrereview.application_id == uuid.UUID(app_id)
                            )
                        )
                    ).scalars()
                )
            if rows == ["done"]:
                break
            await asyncio.sleep(0.1)
        assert rows == ["done"]
    finally:
        worker.cancel()


def test_the_engine_reads_with_the_models_it_ships_and_no_network(
    monkeypatch: pytest.MonkeyPatch, ocr_engine: RememberingEngine
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the OCR engine tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    engine = RapidOcr(threads=1)
    with Image.open(IMAGES / "id-back-zhao.jpg") as img:
        text = "".join(line.text for line in engine.read(img.convert("RGB")))
    assert "居民身份证" in text
