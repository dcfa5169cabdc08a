"""The second reader: active content as pdfium (the viewer's engine) reads it, checked at upload after
pypdf's walk (materials/pdfviewer.py). Each case here is found by pdfium on its own: with the walk (and
the raw-byte scan) switched off, the upload is still refused; jumps within the document still pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtb.materials import inspect as inspection
from mtb.materials.pdfpages import read_as_viewer
from mtb.settings import Settings
from tests.files import ACTIONS, GOTO, HARMLESS_PDFS, HOSTILE_PDFS, pdf_with_action
from tests.materials.helpers import inspected

# The places pdfium's public API shows: links and the outline (the open action, the /AA entries and form
# fields' actions need its form environment; pypdf's walk covers them).
VIEWER_PLACES = ("link", "outline", "outline-nested")
VIEWER_SEES = ("outline-item-script", "outline-nested-escaped-script", "escaped-launch-link",
               "names-escaped-javascript", "names-javascript-tree-kids", "xfa-form", "xfa-form-array",
               "xfa-form-escaped", "xfa-form-in-object-stream", "gotor-unc-path", "gotor-unc-escaped",
               "uri-link", "screen-rendition", "sound-annotation",
               "richmedia-escaped-annotation")


@pytest.fixture
def walk_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """pypdf's walk and the byte scan see nothing, as if a viewer's repair hid the object from them."""
    monkeypatch.setattr(inspection, "active_content", lambda reader: None)
    monkeypatch.setattr(inspection, "_raw_active_content", lambda path: None)


@pytest.mark.parametrize("place", VIEWER_PLACES)
def test_every_action_the_viewer_would_run_is_refused_without_the_walk(
        place: str, tmp_path: Path, settings: Settings, walk_switched_off: None) -> None:
    assert inspected(tmp_path, settings, pdf_with_action(place, GOTO)) is None
    accepted = [name for name, action in ACTIONS.items()
                if inspected(tmp_path, settings, pdf_with_action(place, action)) != "pdf_active_content"]
    assert accepted == []


@pytest.mark.parametrize("name", VIEWER_SEES)
def test_hostile_documents_the_viewer_reads_are_refused_without_the_walk(
        name: str, tmp_path: Path, settings: Settings, walk_switched_off: None) -> None:
    assert inspected(tmp_path, settings, HOSTILE_PDFS[name]()) == "pdf_active_content"


@pytest.mark.parametrize("name", list(HARMLESS_PDFS))
def test_the_viewer_finds_nothing_in_harmless_documents(name: str, tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "harmless.pdf"
    path.write_bytes(HARMLESS_PDFS[name]())
    assert read_as_viewer(path, settings.max_pdf_pages).active is None
