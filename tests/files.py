"""Files for upload tests, made here (never downloaded): photos of documents, PDFs, hostile files."""

from __future__ import annotations

import io
import os
import struct
import zlib

from PIL import Image, ImageDraw, ImageFilter
from pypdf import PdfWriter
from reportlab.pdfgen import canvas


def document_photo(width: int = 1600, height: int = 1200, *, blur: float = 0.0, fmt: str = "JPEG",
                   seed: int = 0) -> bytes:
    """A sharp (or blurred) picture of a page of text lines and a table."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    for row in range(40, height - 40, max(height // 30, 12)):
        draw.line([(60, row), (width - 60, row)], fill=(40, 40, 40), width=2)
        for col in range(80 + seed % 7, width - 80, 37):
            draw.rectangle([col, row - 9, col + 20, row - 3], fill=(10, 10, 10))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    img.save(out, fmt, quality=90) if fmt == "JPEG" else img.save(out, fmt)
    return out.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """Random pixels: a PNG that does not compress (for size limits)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG")
    return out.getvalue()


def pdf(pages: int = 1, text: str = "diagnosis") -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out)
    for i in range(pages):
        c.drawString(72, 720, f"{text} page {i + 1}")
        c.showPage()
    c.save()
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge size (a decompression bomb's header) with a tiny compressed body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
            + chunk(b"IEND", b""))
