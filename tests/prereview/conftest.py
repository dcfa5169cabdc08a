"""Pre-review tests: the fixed images of images/ (made by bench/ocr_generate.py --fixtures, with their
truth in images/truth.json), and the OCR engine, read once per image for the whole session.

Tests that need the engine skip, saying so, when the `ocr` extra is not installed."""

from __future__ import annotations

import hashlib
import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mtb.prereview.ocr import OcrEngine, OcrLine, load_engine

IMAGES = Path(__file__).parent / "images"
needs_ocr = pytest.mark.skipif(
    find_spec("rapidocr") is None or find_spec("onnxruntime") is None,
    reason="the OCR extra is not installed (pip install -e '.[ocr]'): pre-review OCR tests skipped",
)


def image_bytes(name: str) -> bytes:
    return (IMAGES / name).read_bytes()


def truth(name: str) -> dict[str, Any]:
    return next(s for s in json.loads((IMAGES / "truth.json").read_text()) if s["file"] == name)


class RememberingEngine:
    """The real engine, asked once per distinct page (OCR of the same pixels gives the same lines)."""

    def __init__(self, engine: OcrEngine) -> None:
        self.engine = engine
        self.name = engine.name
        self.available = engine.available
        self.calls = 0
        self._seen: dict[str, list[OcrLine]] = {}

    def read(self, image: Image.Image) -> list[OcrLine]:
        self.calls += 1
        key = hashlib.sha256(image.tobytes()).hexdigest()
        if key not in self._seen:
            self._seen[key] = self.engine.read(image)
        return self._seen[key]


@pytest.fixture(scope="session")
def ocr_engine() -> RememberingEngine:
    if find_spec("rapidocr") is None:
        pytest.skip("the OCR extra is not installed (pip install -e '.[ocr]')")
    engine = load_engine(1)
    assert engine.available, getattr(engine, "reason", "")
    return RememberingEngine(engine)
