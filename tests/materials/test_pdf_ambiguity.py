"""PDFs that different programs read differently: a dictionary repeating a key (pypdf keeps the first
value, pdfium and Acrobat the last) is refused at upload, in a plain object or in a compressed object
stream; a page box is judged as pdfium (the renderer) reads it too; and every render is bounded on each
side as well as in area, whatever the box says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mtb.errors import Unprocessable
from mtb.materials.inspect import _check_as_viewer
from mtb.materials.pdfpages import MAX_RENDER_PIXELS, MAX_RENDER_SIDE, read_as_viewer, render_page
from mtb.settings import Settings
from tests.files import REPEATED_KEYS, pdf_with_entries, pdf_with_page_boxes
from tests.materials.helpers import inspected


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "object-stream"])
@pytest.mark.parametrize("name", list(REPEATED_KEYS))
def test_a_repeated_key_anywhere_is_refused(name: str, compressed: bool, tmp_path: Path,
                                             settings: Settings) -> None:
    content = pdf_with_entries(**REPEATED_KEYS[name], compressed=compressed)
    assert inspected(tmp_path, settings, content) == "pdf_ambiguous"


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "object-stream"])
def test_the_same_documents_without_repetition_are_accepted(compressed: bool, tmp_path: Path,
                                                            settings: Settings) -> None:
    assert inspected(tmp_path, settings, pdf_with_entries(compressed=compressed)) is None


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "object-stream"])
def test_an_action_in_an_object_stream_is_still_found(compressed: bool, tmp_path: Path, settings: Settings) -> None:
    content = pdf_with_entries(catalog=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>", compressed=compressed)
    assert inspected(tmp_path, settings, content) == "pdf_active_content"


@pytest.mark.parametrize("box", [b"[0 0 200000000 1]", b"[0 0 1 200000000]", b"[0 0 5000 100]"])
def test_the_page_box_pdfium_renders_is_checked_at_upload(box: bytes, tmp_path: Path, settings: Settings) -> None:
    """The box pdfium keeps from a repeated /MediaBox (the last) is too large, and so refused on its own."""
    path = tmp_path / "twice.pdf"
    path.write_bytes(pdf_with_page_boxes(b"/MediaBox [0 0 100 100] /MediaBox " + box))
    reading = read_as_viewer(path, settings.max_pdf_pages)
    assert reading.count == 1 and max(max(size) for size in reading.sizes) > settings.max_pdf_page_points
    with pytest.raises(Unprocessable) as refused:
        _check_as_viewer(path, settings)
    assert refused.value.code == "pdf_page_too_large"
    assert inspected(tmp_path, settings, path.read_bytes()) == "pdf_ambiguous"
    assert inspected(tmp_path, settings, pdf_with_page_boxes(b"/MediaBox " + box)) == "pdf_page_too_large"


@pytest.mark.parametrize("scale", [1.0, 2.0, 8.0])
@pytest.mark.parametrize("box", [b"[0 0 200000000 1]", b"[0 0 1 200000000]", b"[0 0 100000 0.5]",
                                 b"[0 0 14400 1]", b"[0 0 100 100] /MediaBox [0 0 200000000 1]"])
def test_a_very_thin_page_renders_bounded_on_each_side(box: bytes, scale: float, tmp_path: Path) -> None:
    path = tmp_path / "thin.pdf"
    path.write_bytes(pdf_with_page_boxes(b"/MediaBox " + box))
    image = render_page(path, 1, scale=scale)
    assert max(image.size) <= MAX_RENDER_SIDE + 1, image.size
    assert image.width * image.height <= MAX_RENDER_PIXELS * 1.01, image.size
