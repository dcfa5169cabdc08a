"""A tiny PDF with a huge page box (issue 16, item 5): refused at upload beyond a scanned A3 sheet, and
every render (the pre-review's OCR, the staff viewer) capped in pixels whatever the box says, with a
bounded wait for the renderer. The worker's memory is measured across such an upload and its jobs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from mtb.identity.models import StaffRole
from mtb.materials import pdfpages
from mtb.materials.pdfpages import MAX_RENDER_PIXELS, RenderBusy, render_page
from mtb.prereview import service
from mtb.prereview.ocr import OcrLine
from mtb.settings import Settings
from tests.applications.helpers import BEIJING_SELF, create
from tests.factories import Seed
from tests.files import GIANT_PAGES, SCANNED_PAGES, pdf_with_page_boxes
from tests.materials.helpers import inspected
from tests.web.helpers import as_staff


@pytest.mark.parametrize("name", list(GIANT_PAGES))
def test_a_page_larger_than_a3_is_refused_at_upload(name: str, tmp_path: Path, settings: Settings) -> None:
    content = GIANT_PAGES[name]()
    assert len(content) < 2000
    assert inspected(tmp_path, settings, content) == "pdf_page_too_large"


@pytest.mark.parametrize("name", list(SCANNED_PAGES))
def test_scanned_pages_up_to_a3_are_accepted(name: str, tmp_path: Path, settings: Settings) -> None:
    assert inspected(tmp_path, settings, SCANNED_PAGES[name]()) is None


@pytest.mark.parametrize("scale", [1.0, 1.4, 2.0, 8.0])
def test_every_render_is_capped_whatever_the_box_says(scale: float, tmp_path: Path) -> None:
    """Files stored before the upload rule (or read differently by pdfium) still render small."""
    for number, content in enumerate(GIANT_PAGES.values()):
        path = tmp_path / f"{number}.pdf"
        path.write_bytes(content())
        for page in (1, 2) if b"/Count 2" in path.read_bytes() else (1,):
            image = render_page(path, page, scale=scale)
            assert image.width * image.height <= MAX_RENDER_PIXELS * 1.01, (number, scale, image.size)


def test_an_ordinary_page_renders_at_the_scale_asked(tmp_path: Path) -> None:
    path = tmp_path / "a4.pdf"
    path.write_bytes(SCANNED_PAGES["a4"]())
    assert render_page(path, 1, scale=2.0).size == (1190, 1684)


def test_a_caller_waits_for_the_renderer_only_so_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a4.pdf"
    path.write_bytes(SCANNED_PAGES["a4"]())
    monkeypatch.setattr(pdfpages, "LOCK_WAIT_SECONDS", 0.05)
    assert pdfpages._PDFIUM.acquire(timeout=5)  # a render that does not end
    try:
        with pytest.raises(RenderBusy) as busy:
            render_page(path, 1, scale=1.4)
        assert busy.value.status_code == 503 and busy.value.headers == {"Retry-After": "5"}
    finally:
        pdfpages._PDFIUM.release()
    assert render_page(path, 1, scale=1.4).width > 0  # and free again


class Blank:
    """An OCR engine that reads nothing: the test is about the pages the job renders, not the reading."""

    name = "blank"
    available = True

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def read(self, image: Image.Image) -> list[OcrLine]:
        self.seen.append(image.size)
        return []


def peak_rss_reset() -> int:
    """Reset this process's peak resident memory (Linux clear_refs 5); its current RSS in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status("VmRSS")


def _status(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) // 1024  # type: ignore[union-attr]


async def test_memory_stays_bounded_across_a_giant_page_upload_and_its_jobs(
        client: httpx.AsyncClient, seed: Seed, settings: Settings) -> None:
    """The probe's file (MediaBox 5000 x 5000, under 500 bytes) grew the worker by 800 MB. Here, in the
    worker's own process: uploads of every giant variant are refused; a giant file stored before the rule
    is read by the pre-review job and shown in the viewer; the peak resident memory grows by less than
    150 MB over all of it (a 5000-point page at the OCR's scale alone is a 400 MB bitmap)."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc to measure the peak resident memory")
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    await as_staff(seed, await seed.staff("bj_reviewer", StaffRole.reviewer))

    def send(content: bytes) -> Any:
        return client.post(f"/api/v1/applications/{app_id}/materials", headers=headers,
                           data={"kind": "diagnosis_certificate"},
                           files={"file": ("scan.pdf", content, "application/pdf")})

    giant = pdf_with_page_boxes(b"/MediaBox [0 0 5000 5000]")
    before = peak_rss_reset()
    for name, content in GIANT_PAGES.items():
        refused = await send(content())
        assert refused.status_code == 422 and refused.json()["error"] == "pdf_page_too_large", (name, refused.text)
    settings.max_pdf_page_points = 14400  # as it was before the rule
    try:
        stored = await send(giant)
    finally:
        settings.max_pdf_page_points = 1300
    assert stored.status_code == 201, stored.text
    engine = Blank()
    assert await service.run_pending(seed.sessionmaker, settings, engine=engine) >= 1  # type: ignore[arg-type]
    page = await client.get(f"/staff/applications/{app_id}/materials/{stored.json()['id']}/page/1.png")
    assert page.status_code == 200 and page.content.startswith(b"\x89PNG")
    grown = _status("VmHWM") - before
    assert engine.seen, "the pre-review job rendered the page"
    assert grown < 150, f"peak resident memory grew by {grown} MB"
