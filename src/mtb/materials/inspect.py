"""What an uploaded file really is, judged by its content (never by its name or declared type).

PDF: must parse, must not be encrypted, at most `max_pdf_pages` pages (counted by walking the page tree
with a budget, never trusting /Count and never decoding a content stream), pages no larger than a
scanned A3 sheet needs (`max_pdf_page_points`), and no active content: nothing but jumps within the
document (the rule is in `mtb/materials/pdfactive.py`). Whatever pypdf had to recover from while reading a
dictionary or an object stream is refused as ambiguous (`mtb/materials/pdfparse.py`), and pdfium, the
viewer's engine, must read the same: no larger page and no active content either (`pdfpages.read_as_viewer`
with the rule in `mtb/materials/pdfviewer.py`).
JPEG/PNG: the declared size must stay under `max_image_pixels` (checked before decoding, so a
decompression bomb is refused without being unpacked), nothing may follow the end of the image (a ZIP or
a PDF appended makes a file that is also something else), the whole image must decode, and its shorter
side must reach `min_image_side`. A photo that is small or looks blurred is accepted with a warning.
"""

from __future__ import annotations

import logging
import mmap
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filetype
from PIL import Image, ImageFilter, ImageStat, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from mtb.errors import MTBError, Unprocessable, UnsupportedMediaType
from mtb.materials.pdfactive import (
    PDF_EMBEDDED,
    PDF_FORM,
    PDF_LAUNCH,
    PDF_OUTSIDE,
    PDF_SCRIPT,
    active_content,
)
from mtb.materials.pdfpages import read_as_viewer
from mtb.materials.pdfparse import check_object_streams, parse_recoveries
from mtb.settings import Settings

log = logging.getLogger(__name__)

ACCEPTED = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
UNCLEAR = {"code": "photo_may_be_unclear", "message": "照片可能不清晰，建议在光线充足处对准后重新拍摄"}
SMALL = {"code": "photo_resolution_low", "message": "照片分辨率较低，可能看不清，建议重新拍摄"}
# Below this edge variance (on a 1024 px copy) a photo of a document is most likely out of focus.
BLUR_EDGE_VARIANCE = 120.0
RECOMMENDED_SIDE = 1000
# After the end of an image, at most this many bytes, all 0x00 or 0xFF (some encoders pad).
IMAGE_PADDING = 16
UNREADABLE_IMAGE = "图片已损坏或不完整，请重新拍摄或导出后上传"
# Judged by the content, whatever the file's name says (a .txt renamed .jpg is still text).
NOT_A_DOCUMENT = "这个文件的内容不是图片或 PDF（与文件名无关），请重新拍照，或选择 PDF、JPG、PNG 文件"
UNREADABLE_PDF = "PDF 文件已损坏或无法读取，请重新导出后上传"
AMBIGUOUS_PDF = ("PDF 文件结构不规范（有重复定义或无法解析的项，不同软件会读出不同内容），出于安全考虑不能上传；"
                 "请用“打印为 PDF”重新导出，或扫描后上传")
# Defence in depth after the object walk (see `_raw_active_content`): names long enough that binary
# image data spells them by chance too rarely to matter, written plainly or with #-escapes.
RAW_MARKERS = {b"JavaScript": PDF_SCRIPT, b"EmbeddedFile": PDF_EMBEDDED, b"EmbeddedFiles": PDF_EMBEDDED,
               b"Launch": PDF_LAUNCH, b"ImportData": PDF_LAUNCH, b"SubmitForm": PDF_FORM, b"Templates": PDF_FORM,
               b"RichMedia": PDF_OUTSIDE, b"RichMediaExecute": PDF_SCRIPT}
# A name (PDF 7.3.5): a slash and regular characters; only names holding a #-escape are decoded.
_RAW_NAME = re.compile(rb"/(" + b"|".join(re.escape(m) for m in RAW_MARKERS) + rb")(?=[\x00\s/\[\]<>(){}%]|$)")
_ESCAPED_NAME = re.compile(rb"/([^\x00\t\n\x0c\r /\[\]<>(){}%]*#[0-9A-Fa-f]{2}[^\x00\t\n\x0c\r /\[\]<>(){}%]*)")


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
        raise UnsupportedMediaType("unsupported_file_type", NOT_A_DOCUMENT)
    if mime == "application/pdf":
        return _inspect_pdf(path, settings)
    return _inspect_image(path, mime, settings)


def _inspect_pdf(path: Path, settings: Settings) -> Inspection:
    try:
        with warnings.catch_warnings(), parse_recoveries() as recovered:
            warnings.simplefilter("ignore")
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted:
                raise Unprocessable("pdf_encrypted", "PDF 文件已加密或设置了密码，请上传未加密的文件")
            pages = _pages(reader, settings.max_pdf_pages, settings.max_pdf_page_points)
            active = active_content(reader)
            if not active:
                _read_every_object(reader)
            if ambiguity := check_object_streams(reader):
                recovered.append(ambiguity)
        if recovered:
            log.info("pdf refused as ambiguous", extra={"reason": recovered[0]})
            raise Unprocessable("pdf_ambiguous", AMBIGUOUS_PDF)
        if pages and not active:
            _check_as_viewer(path, settings)
    except MTBError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            OSError) as exc:
        raise Unprocessable("pdf_unreadable", UNREADABLE_PDF) from exc
    if not pages:
        raise Unprocessable("pdf_unreadable", "PDF 文件没有页面")
    if active := active or _raw_active_content(path):
        raise _active(active)
    return Inspection("application/pdf", "pdf", pages=len(pages))


def _pages(reader: PdfReader, limit: int, max_points: int = 14400) -> list[DictionaryObject]:
    """The page dictionaries, in order, as pypdf would flatten them, refused past `limit` pages or when a
    page is larger than `max_points` on a side.

    Walked here rather than by `len(reader.pages)`: a small file can describe a tree of 10^9 pages by
    listing one /Pages node many times in /Kids (or loop back to an ancestor), and /Count can lie. This
    walk stops at the first page over the limit, and at a budget of intermediate nodes that no real tree
    of `limit` pages needs. Only dictionaries are read: no content stream is decoded.

    A page's size is what a viewer renders: its /MediaBox and /CropBox (its own or inherited from a
    /Pages node above it) times its /UserUnit. A 500-byte file can declare a 14400-point page, which a
    renderer makes into a bitmap of hundreds of megabytes; no scanned document is larger than A3.
    """
    root = _get(reader.root_object, "/Pages")
    if not isinstance(root, DictionaryObject):
        raise Unprocessable("pdf_unreadable", UNREADABLE_PDF)
    pages: list[DictionaryObject] = []
    intermediate = 0
    stack: list[tuple[Iterator[Any], dict[str, Any]]] = [(iter([root]), {})]
    while stack:
        kid = next(stack[-1][0], None)
        if kid is None:
            stack.pop()
            continue
        node = kid.get_object()
        if not isinstance(node, DictionaryObject) or not node:
            continue  # pypdf skips these too
        inherited = stack[-1][1] | {k: node[k] for k in _INHERITED_BOXES if k in node}
        kind = _get(node, "/Type")
        if kind == "/Pages" or (kind is None and "/Kids" in node):
            intermediate += 1
            if intermediate > 2 * limit + 16:
                raise Unprocessable("pdf_unreadable", "PDF 文件的页面结构异常，请重新导出后上传")
            kids = _get(node, "/Kids")
            if not isinstance(kids, ArrayObject):
                raise Unprocessable("pdf_unreadable", UNREADABLE_PDF)
            stack.append((iter(kids), inherited))
        elif kind in ("/Page", None):
            _check_page_size(node, inherited, max_points)
            pages.append(node)
            if len(pages) > limit:
                raise Unprocessable("pdf_too_many_pages", f"PDF 文件页数过多（最多 {limit} 页）")
    return pages


_INHERITED_BOXES = ("/MediaBox", "/CropBox")


def _read_every_object(reader: PdfReader) -> None:
    """Parse every object of the file (plain and in object streams), so that each dictionary is read."""
    for generation, numbers in reader.xref.items():
        for number in numbers:
            reader.get_object(IndirectObject(number, generation, reader))
    for number in reader.xref_objStm:
        reader.get_object(IndirectObject(number, 0, reader))


def _check_as_viewer(path: Path, settings: Settings) -> None:
    """The page count, the page sizes and the active content again as pdfium, the renderer, reads them
    (pdfpages.py `read_as_viewer`)."""
    import pypdfium2 as pdfium

    try:
        reading = read_as_viewer(path, settings.max_pdf_pages)
    except pdfium.PdfiumError as exc:
        raise Unprocessable("pdf_unreadable", UNREADABLE_PDF) from exc
    if reading.count > settings.max_pdf_pages:
        raise Unprocessable("pdf_too_many_pages", f"PDF 文件页数过多（最多 {settings.max_pdf_pages} 页）")
    if reading.count == 0:
        raise Unprocessable("pdf_unreadable", "PDF 文件没有页面")
    if any(max(width, height) > settings.max_pdf_page_points for width, height in reading.sizes):
        raise _page_too_large(settings.max_pdf_page_points)
    if reading.active:
        raise _active(reading.active)


def _check_page_size(page: DictionaryObject, boxes: dict[str, Any], max_points: int) -> None:
    unit = _get(page, "/UserUnit")
    scale = float(unit) if unit is not None else 1.0
    if not 0 < scale <= 75_000:
        raise Unprocessable("pdf_unreadable", UNREADABLE_PDF)
    for value in boxes.values():
        box = value.get_object()
        if not isinstance(box, ArrayObject) or len(box) != 4:
            raise Unprocessable("pdf_unreadable", UNREADABLE_PDF)
        x1, y1, x2, y2 = (float(n.get_object()) for n in box)
        if max(abs(x2 - x1), abs(y2 - y1)) * scale > max_points:
            raise _page_too_large(max_points)


def _active(reason: str) -> Unprocessable:
    return Unprocessable("pdf_active_content",
                         f"{reason}，出于安全考虑不能上传；请用“打印为 PDF”另存，或扫描纸质件后重新上传")


def _page_too_large(max_points: int) -> Unprocessable:
    return Unprocessable(
        "pdf_page_too_large",
        f"PDF 页面尺寸过大（最大边长 {max_points * 25.4 / 72:.0f} 毫米，A3 纸为 297×420 毫米），"
        "请按实际纸张大小扫描或导出后上传")


def _raw_active_content(path: Path) -> str | None:
    """The same look in the raw bytes, as defence in depth.

    The object walk sees the document as pypdf reads it. A viewer that repairs a damaged file differently
    (rebuilding a broken cross-reference table, or taking an object pypdf skipped) could find an action
    the walk never reached; in plain objects its name still shows in the bytes, plainly or #-escaped.
    Names kept in compressed object streams do not show here, which is why the walk comes first.
    """
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        found = _RAW_NAME.search(data)  # type: ignore[call-overload]
        if found is not None:
            return RAW_MARKERS[found.group(1)]
        for escaped in _ESCAPED_NAME.finditer(data):  # type: ignore[call-overload]
            name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), escaped.group(1))
            if name in RAW_MARKERS:
                return RAW_MARKERS[name]
    return None


def _get(node: DictionaryObject, key: str) -> Any:
    """An entry with its indirect reference resolved (`get` leaves it unresolved)."""
    value = node.get(key)
    return value.get_object() if value is not None else None


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
        raise Unprocessable("image_unreadable", UNREADABLE_IMAGE) from exc
    try:
        with img:
            width, height = img.size
            if width * height > settings.max_image_pixels:
                raise _too_large(settings)
            if Image.MIME.get(img.format or "") != mime:
                raise UnsupportedMediaType("unsupported_file_type", NOT_A_DOCUMENT)
            _check_ends_cleanly(path, mime)
            img.load()
            sharpness = _edge_variance(img)
    except (Unprocessable, UnsupportedMediaType):
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Unprocessable("image_unreadable", UNREADABLE_IMAGE) from exc
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


def _check_ends_cleanly(path: Path, mime: str) -> None:
    """Refuse an image with anything but a little padding after its end.

    Decoders stop at the end of the image (JPEG's EOI marker, PNG's IEND chunk) and ignore what follows,
    so a ZIP, a PDF or a page of HTML appended there makes a file that is an image to us and something
    else to another program. The end is found by following the file's structure, not by searching for
    the marker, which can also occur inside the data.
    """
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        end = _jpeg_end(data) if mime == "image/jpeg" else _png_end(data)
        if end is None:
            raise Unprocessable("image_unreadable", UNREADABLE_IMAGE)
        rest = data[end:end + IMAGE_PADDING + 1]
    if len(rest) > IMAGE_PADDING or rest.strip(b"\x00\xff"):
        raise Unprocessable("file_has_trailing_data",
                            "图片文件末尾附带了其他数据（可能被拼接或改动过），请重新拍摄或另存为普通图片后上传")


def _png_end(data: mmap.mmap) -> int | None:
    """Offset just past the IEND chunk: chunk by chunk (length, type, data, CRC) from the signature."""
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos if pos <= len(data) else None
    return None


# Markers that stand alone, without a length: TEM and the restart markers RST0-7.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _jpeg_end(data: mmap.mmap) -> int | None:
    """Offset just past the EOI marker that ends the image, or None if the structure breaks off.

    After SOI come marker segments, each with its length. A scan (SOS) is followed by entropy-coded
    data, in which 0xFF is either stuffed (FF00) or starts a restart marker (FFD0-FFD7); the first other
    marker ends the scan. A progressive image has several scans; EOI ends the image.
    """
    size = len(data)
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while True:
        if pos >= size or data[pos] != 0xFF:
            return None
        while pos < size and data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        if pos >= size:
            return None
        code = data[pos]
        pos += 1
        if code == 0xD9:
            return pos
        if code in _JPEG_STANDALONE:
            continue
        if code in (0x00, 0xD8) or pos + 2 > size:
            return None
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2:
            return None
        pos += length
        if code == 0xDA:
            found = _end_of_scan(data, pos)
            if found is None:
                return None
            pos = found


def _end_of_scan(data: mmap.mmap, pos: int) -> int | None:
    """Offset of the marker that ends the entropy-coded data starting at `pos`."""
    size = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= size:
            return None
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos += 2
        elif following == 0xFF:
            pos += 1
        else:
            return pos
