"""What an uploaded file really is, judged by its content (never by its name or declared type).

PDF: must parse, must not be encrypted, at most `max_pdf_pages` pages.
JPEG/PNG: the declared size must stay under `max_image_pixels` (checked before decoding, so a
decompression bomb is refused without being unpacked), the whole image must decode, and its shorter
side must reach `min_image_side`. A photo that is small or looks blurred is accepted with a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import filetype
from PIL import Image, ImageFilter, ImageStat, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from mtb.errors import Unprocessable, UnsupportedMediaType
from mtb.settings import Settings

ACCEPTED = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
UNCLEAR = {"code": "photo_may_be_unclear", "message": "照片可能不清晰，建议在光线充足处对准后重新拍摄"}
SMALL = {"code": "photo_resolution_low", "message": "照片分辨率较低，可能看不清，建议重新拍摄"}
# Below this edge variance (on a 1024 px copy) a photo of a document is most likely out of focus.
BLUR_EDGE_VARIANCE = 120.0
RECOMMENDED_SIDE = 1000


@dataclass(frozen=True)
class Inspection:
    content_type: str
    extension: str
    pages: int | None = None
    width: int | None = None
    height: int | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)


def inspect_file(path: Path, settings: Settings) -> Inspection:
    with path.open("rb") as f:
        head = f.read(8192)
    kind = filetype.guess(head)
    mime = kind.mime if kind is not None else None
    if mime not in ACCEPTED:
        raise UnsupportedMediaType("unsupported_file_type", "只能上传 PDF、JPG 或 PNG 格式的文件")
    if mime == "application/pdf":
        return _inspect_pdf(path, settings)
    return _inspect_image(path, mime, settings)


def _inspect_pdf(path: Path, settings: Settings) -> Inspection:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted:
                raise Unprocessable("pdf_encrypted", "PDF 文件已加密或设置了密码，请上传未加密的文件")
            pages = len(reader.pages)
    except Unprocessable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            OSError) as exc:
        raise Unprocessable("pdf_unreadable", "PDF 文件已损坏或无法读取，请重新导出后上传") from exc
    if pages == 0:
        raise Unprocessable("pdf_unreadable", "PDF 文件没有页面")
    if pages > settings.max_pdf_pages:
        raise Unprocessable("pdf_too_many_pages", f"PDF 文件页数过多（最多 {settings.max_pdf_pages} 页）")
    return Inspection("application/pdf", "pdf", pages=pages)


def _too_large(settings: Settings) -> Unprocessable:
    return Unprocessable("image_too_large",
                         f"图片像素过大（最多 {settings.max_image_pixels // 1_000_000} 百万像素）")


def _inspect_image(path: Path, mime: str, settings: Settings) -> Inspection:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:  # Pillow's own guard, far above ours
        raise _too_large(settings) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Unprocessable("image_unreadable", "图片已损坏或不完整，请重新拍摄或导出后上传") from exc
    try:
        with img:
            width, height = img.size
            if width * height > settings.max_image_pixels:
                raise _too_large(settings)
            if Image.MIME.get(img.format or "") != mime:
                raise UnsupportedMediaType("unsupported_file_type", "只能上传 PDF、JPG 或 PNG 格式的文件")
            img.load()
            sharpness = _edge_variance(img)
    except (Unprocessable, UnsupportedMediaType):
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Unprocessable("image_unreadable", "图片已损坏或不完整，请重新拍摄或导出后上传") from exc
    if min(width, height) < settings.min_image_side:
        raise Unprocessable("image_resolution_too_low",
                            f"图片分辨率过低（短边至少 {settings.min_image_side} 像素），请重新拍摄")
    notes: list[dict[str, str]] = []
    if min(width, height) < RECOMMENDED_SIDE:
        notes.append(SMALL)
    if sharpness < BLUR_EDGE_VARIANCE:
        notes.append(UNCLEAR)
    return Inspection(mime, ACCEPTED[mime], width=width, height=height, warnings=notes)


def _edge_variance(img: Image.Image) -> float:
    """Variance of an edge filter on a grey copy: low when nothing in the picture is sharp."""
    grey = img.convert("L")
    grey.thumbnail((1024, 1024))
    edges = grey.filter(ImageFilter.Kernel((3, 3), [0, 1, 0, 1, -4, 1, 0, 1, 0], scale=1, offset=128))
    return float(ImageStat.Stat(edges).var[0])
