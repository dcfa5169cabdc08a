"""PDF pages as images, rendered with pdfium, for the staff viewer and the pre-review."""

from __future__ import annotations

import threading
from pathlib import Path

from PIL import Image

# pdfium is not thread-safe: two pages rendered at once in worker threads crash the process
# ("double free or corruption", seen when the viewer loads a PDF's pages in parallel). One at a time,
# across the viewer and the pre-review.
_PDFIUM = threading.Lock()


def render_page(path: Path, number: int, *, scale: float) -> Image.Image:
    """Page `number` (from 1) of the PDF at `path`, at `scale` × 72 dpi."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        document = pdfium.PdfDocument(path)
        try:
            return document[number - 1].render(scale=scale).to_pil()
        finally:
            document.close()
