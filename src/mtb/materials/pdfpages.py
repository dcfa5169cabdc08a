"""PDF pages as images, rendered with pdfium, for the staff viewer and the pre-review.

Every render is bounded whatever the page says: at most `MAX_RENDER_PIXELS` in all and `MAX_RENDER_SIDE`
on each side (the scale is lowered for a page too large for them; uploads refuse such pages, but a file
stored before that rule, or a page box pypdf read differently from pdfium, must not make a bitmap of
hundreds of megabytes, nor a 1-point-high page a bitmap millions of pixels wide), and a caller
waits at most `LOCK_WAIT_SECONDS` for its turn (`RenderBusy` then: the viewer answers 503 with
Retry-After, the pre-review tries again later).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from mtb.errors import MTBError
from mtb.materials.pdfviewer import document_active_content, page_active_content

# pdfium is not thread-safe: two pages rendered at once in worker threads crash the process
# ("double free or corruption", seen when the viewer loads a PDF's pages in parallel). One at a time,
# across the viewer and the pre-review.
_PDFIUM = threading.Lock()
# An A3 page at the pre-review's 144 dpi is 1684 x 2382 (4 Mpx); the viewer's A3 at 1.4 x 72 dpi 2 Mpx.
MAX_RENDER_PIXELS = 6_000_000
# The longest side of any render: an A3 page's long side at the pre-review's 144 dpi is 2382 px.
MAX_RENDER_SIDE = 4000
LOCK_WAIT_SECONDS = 20.0


class RenderBusy(MTBError):
    """Other renders held the renderer for longer than a caller waits: try again shortly."""

    status_code = 503

    def __init__(self) -> None:
        super().__init__("render_busy", "页面图像正在生成，请稍后再试", headers={"Retry-After": "5"})


def render_scale(width_points: float, height_points: float, scale: float) -> float:
    """`scale`, lowered so that the page's bitmap stays within MAX_RENDER_PIXELS and MAX_RENDER_SIDE."""
    area = max(width_points, 1.0) * max(height_points, 1.0)
    side = max(width_points, height_points, 1.0)
    return min(scale, math.sqrt(MAX_RENDER_PIXELS / area), MAX_RENDER_SIDE / side)


@dataclass(frozen=True)
class ViewerReading:
    """A PDF as pdfium, the renderer, reads it: the page count, each of the first pages' MediaBox and
    effective size in points, and the first active content it would run or open (pdfviewer.py)."""

    count: int
    sizes: list[tuple[float, float]]
    active: str | None


def read_as_viewer(path: Path, limit: int) -> ViewerReading:
    """How pdfium reads the PDF at `path` (its first `limit` pages): so that a box or an action pypdf
    reads differently (a repeated key, a repair) is judged as it would be rendered and run."""
    import pypdfium2 as pdfium

    if not _PDFIUM.acquire(timeout=LOCK_WAIT_SECONDS):
        raise RenderBusy
    try:
        document = pdfium.PdfDocument(path)
        try:
            sizes: list[tuple[float, float]] = []
            active = document_active_content(document)
            count = len(document)
            for index in range(min(count, limit)):
                page = document[index]
                try:
                    x1, y1, x2, y2 = page.get_mediabox()
                    sizes.append((abs(x2 - x1), abs(y2 - y1)))
                    sizes.append(page.get_size())
                    active = active or page_active_content(page)
                finally:
                    page.close()
            return ViewerReading(count, sizes, active)
        finally:
            document.close()
    finally:
        _PDFIUM.release()


def render_page(path: Path, number: int, *, scale: float) -> Image.Image:
    """Page `number` (from 1) of the PDF at `path`, at `scale` × 72 dpi or less (see the module)."""
    import pypdfium2 as pdfium

    if not _PDFIUM.acquire(timeout=LOCK_WAIT_SECONDS):
        raise RenderBusy
    try:
        document = pdfium.PdfDocument(path)
        try:
            page = document[number - 1]
            width, height = page.get_size()
            return page.render(scale=render_scale(width, height, scale)).to_pil()
        finally:
            document.close()
    finally:
        _PDFIUM.release()
