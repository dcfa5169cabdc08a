"""Reading the text of a material: the OCR engine (optional extra `mtb[ocr]`) and the pages it reads.

RapidOCR 3 runs PP-OCR models on onnxruntime, on the CPU. Its wheel ships the three models it needs
(text detection, line orientation, recognition); they are named here by path, which is the branch of
RapidOCR that never downloads (with no path it would fetch a model it does not find). The recognition
model carries its own character list, so no dictionary is fetched either (checked when loading).
Without the extra, `load_engine` returns an engine that says it is not available.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageOps

from mtb.materials.pdfpages import render_page

log = logging.getLogger("mtb.prereview")

MODELS = {"Det": "PP-OCRv6_det_small.onnx", "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
          "Rec": "PP-OCRv6_rec_small.onnx"}
# Pages of a PDF that are read (a certificate or an ID card is on the first; a form may run to two).
PDF_PAGES = 2
PDF_SCALE = 2.0  # 144 dpi
# Longest side an image is read at: more costs time and finds nothing more on a document.
MAX_SIDE = 2000


@dataclass(frozen=True)
class OcrLine:
    """One line of text as the engine found it, with its box (left, top, right, bottom) and confidence."""

    text: str
    score: float
    box: tuple[float, float, float, float]


class OcrEngine(Protocol):
    name: str
    available: bool

    def read(self, image: Image.Image) -> list[OcrLine]: ...


class NoOcr:
    """The engine when the `ocr` extra is not installed: nothing is read, the pre-review says so."""

    available = False

    def __init__(self, reason: str) -> None:
        self.name = "none"
        self.reason = reason

    def read(self, image: Image.Image) -> list[OcrLine]:
        raise RuntimeError(self.reason)


class RapidOcr:
    available = True

    def __init__(self, *, threads: int) -> None:
        import numpy
        import onnxruntime
        import rapidocr
        from rapidocr import RapidOCR

        models = Path(rapidocr.__file__).parent / "models"
        params: dict[str, object] = {f"{stage}.model_path": str(models / file)
                                     for stage, file in MODELS.items()}
        for file in MODELS.values():
            if not (models / file).is_file():
                raise FileNotFoundError(f"rapidocr model {file} is not in the installed package")
        rec = onnxruntime.InferenceSession(str(models / MODELS["Rec"]), providers=["CPUExecutionProvider"])
        if "character" not in rec.get_modelmeta().custom_metadata_map:
            raise RuntimeError("the recognition model has no character list (RapidOCR would download one)")
        del rec
        params |= {"Global.log_level": "warning", "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                   "EngineConfig.onnxruntime.inter_op_num_threads": 1}
        self._numpy = numpy
        self._engine = RapidOCR(params=params)
        self.name = f"rapidocr {version('rapidocr')}"

    def read(self, image: Image.Image) -> list[OcrLine]:
        result = self._engine(self._numpy.asarray(image.convert("RGB"))[:, :, ::-1])  # RapidOCR takes BGR
        if result.boxes is None or result.txts is None or result.scores is None:
            return []
        lines = []
        for box, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
            xs, ys = [float(p[0]) for p in box], [float(p[1]) for p in box]
            lines.append(OcrLine(str(text), float(score), (min(xs), min(ys), max(xs), max(ys))))
        return lines


@lru_cache(maxsize=1)
def load_engine(threads: int = 1) -> OcrEngine:
    """The engine of this process, loaded once (the models take a moment and some memory)."""
    try:
        return RapidOcr(threads=threads)
    except ImportError:
        return NoOcr("未安装文字识别组件（mtb[ocr]）")
    except (OSError, RuntimeError) as exc:
        log.warning("OCR engine unusable, pre-review not available", extra={"error": str(exc)})
        return NoOcr("文字识别组件无法使用")


def page_images(path: Path, content_type: str, page_count: int | None) -> list[Image.Image]:
    """The pages to read: the image itself (upright by its EXIF orientation), or a PDF's first pages."""
    if content_type == "application/pdf":
        pages = [render_page(path, n, scale=PDF_SCALE) for n in range(1, min(page_count or 1, PDF_PAGES) + 1)]
    else:
        with Image.open(path) as img:
            pages = [ImageOps.exif_transpose(img).convert("RGB")]
    for page in pages:
        page.thumbnail((MAX_SIDE, MAX_SIDE))
    return pages
