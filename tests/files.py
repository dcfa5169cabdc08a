"""Files for upload tests, made here (never downloaded): photos of documents, PDFs, hostile files."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

from PIL import Image, ImageDraw, ImageFilter
from pypdf import PdfReader, PdfWriter
from pypdf.actions import JavaScript, PageTrigger
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)
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


def zip_archive(name: str = "readme.html", content: bytes = b"<script>alert(1)</script>") -> bytes:
    """A small ZIP, to append to an image (a polyglot: an image to one program, an archive to another)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return out.getvalue()


def _written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _one_page() -> PdfWriter:
    return PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(1))))


def pdf_with_javascript() -> bytes:
    """Document-level JavaScript (the catalog's /Names /JavaScript tree), as pypdf's add_open_action makes it."""
    writer = _one_page()
    writer.add_open_action(JavaScript("app.alert('hello');"))
    return _written(writer)


def pdf_with_page_script() -> bytes:
    """JavaScript run when the first page opens (the page's /AA)."""
    writer = _one_page()
    writer.pages[0].add_action(PageTrigger.OPEN, JavaScript("app.launchURL('http://example.invalid/');"))
    return _written(writer)


def pdf_with_attachment() -> bytes:
    writer = _one_page()
    writer.add_attachment("invoice.exe", b"MZ" + b"\x00" * 64)
    return _written(writer)


def pdf_with_file_annotation() -> bytes:
    """A file attached to a page through a /FileAttachment annotation (no /EmbeddedFiles name tree)."""
    writer = _one_page()
    embedded = StreamObject()
    embedded.set_data(b"MZ" + b"\x00" * 64)
    embedded[NameObject("/Type")] = NameObject("/EmbeddedFile")
    filespec = DictionaryObject({NameObject("/Type"): NameObject("/Filespec"),
                                 NameObject("/F"): TextStringObject("tool.exe"),
                                 NameObject("/EF"): DictionaryObject({NameObject("/F"): writer._add_object(embedded)})})
    writer.add_annotation(0, DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/FileAttachment"),
        NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (10, 10, 30, 30)]),
        NameObject("/FS"): filespec}))
    return _written(writer)


def pdf_with_launch_action() -> bytes:
    """An /OpenAction that starts a program."""
    writer = _one_page()
    writer.root_object[NameObject("/OpenAction")] = DictionaryObject({
        NameObject("/Type"): NameObject("/Action"), NameObject("/S"): NameObject("/Launch"),
        NameObject("/F"): TextStringObject("cmd.exe")})
    return _written(writer)


def pdf_with_link_script() -> bytes:
    """A link whose harmless URI action is followed (/Next) by JavaScript."""
    writer = _one_page()
    script = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                               NameObject("/JS"): TextStringObject("app.alert(1);")})
    writer.add_annotation(0, DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Link"),
        NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (10, 10, 100, 30)]),
        NameObject("/A"): DictionaryObject({NameObject("/S"): NameObject("/URI"),
                                            NameObject("/URI"): TextStringObject("https://example.invalid/"),
                                            NameObject("/Next"): ArrayObject([writer._add_object(script)])})}))
    return _written(writer)


def raw_pdf(*objects: bytes) -> bytes:
    """A PDF written by hand: object 1 is the catalog, objects are numbered from 1, the xref is exact."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_page_tree_bomb(fanout: int = 10, depth: int = 9) -> bytes:
    """A 1 kB PDF of fanout**depth pages (10^9): each /Pages node lists the next one `fanout` times.
    Its /Count says 1."""
    nodes = [b"<< /Type /Pages /Kids [%s] /Count 1 >>" % b" ".join([b"%d 0 R" % (level + 3)] * fanout)
             for level in range(depth)]
    leaf = b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 200 200] >>" % (depth + 1)
    return raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", *nodes, leaf)


def pdf_page_tree_loop() -> bytes:
    """A page tree whose /Pages nodes list each other as kids, forever."""
    return raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   b"<< /Type /Pages /Kids [2 0 R] /Parent 2 0 R /Count 1 >>")


def pdf_with_escaped_script() -> bytes:
    """An /OpenAction script whose names are written with # escapes (/J#61vaScript is /JavaScript), so the
    raw bytes never spell them: only reading the objects finds it."""
    return raw_pdf(b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
                   b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
                   b"<< /S /J#61vaScript /J#53 (app.alert(1);) >>")


def pdf_with_compressed_content(size: int = 50 * 1024 * 1024) -> bytes:
    """One page whose content stream inflates to `size` bytes (a zip bomb's ratio, about 1000:1)."""
    squeeze = zlib.compressobj(9)
    block = b" " * (1024 * 1024)
    data = b"".join(squeeze.compress(block) for _ in range(size // len(block))) + squeeze.flush()
    return raw_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
                   b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data))


def multipart_form(fields: dict[str, str], file_name: bytes, content: bytes,
                   content_type: str = "image/jpeg") -> tuple[bytes, str]:
    """A multipart/form-data body written by hand, so the file name goes out byte for byte (httpx would
    percent-encode control characters). Returns the body and its Content-Type header."""
    boundary = b"mtb-" + os.urandom(12).hex().encode()
    parts = [b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
             % (boundary, name.encode(), value.encode()) for name, value in fields.items()]
    parts.append(b'--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n'
                 b"Content-Type: %s\r\n\r\n%s\r\n" % (boundary, file_name, content_type.encode(), content))
    return b"".join(parts) + b"--%s--\r\n" % boundary, f"multipart/form-data; boundary={boundary.decode()}"


def with_jpeg_comment(jpeg: bytes, comment: bytes) -> bytes:
    """The JPEG with a comment (COM) segment right after SOI."""
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[2:]


def with_png_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """The PNG with one more chunk right after IHDR (8 bytes of signature, 25 of IHDR)."""
    chunk = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return png[:33] + chunk + png[33:]


# Ordinary encodings an end-of-image check must not mistake for appended data.
IMAGE_VARIANTS = {"progressive-jpeg": ("JPEG", {"progressive": True, "quality": 90}),
                  "jpeg-restart-markers": ("JPEG", {"restart_marker_blocks": 1}),
                  "jpeg-optimized": ("JPEG", {"optimize": True}),
                  "interlaced-png": ("PNG", {"interlace": 1})}


def image_variant(label: str) -> bytes:
    fmt, options = IMAGE_VARIANTS[label]
    out = io.BytesIO()
    Image.open(io.BytesIO(document_photo())).save(out, fmt, **options)
    return out.getvalue()
