"""Active content in a PDF: anything a viewer could run, open, submit or fetch. The rule for uploads:

A scanned certificate needs pages, images and text, at most links and outline entries that jump to
another place in the same document. So every object of the file is read (as pypdf resolves it: names
with their #-escapes decoded, indirect references followed, objects inside compressed object streams
unpacked) and the PDF is refused when any of them is

- an action of any type but `/GoTo` (a jump within the document): JavaScript, Launch, GoToR (another
  file, e.g. a UNC path that leaks the viewer's credentials), GoToE, URI, SubmitForm, ResetForm,
  ImportData, Named, Sound, Movie, Rendition, RichMediaExecute, ... — wherever it sits: the open action,
  document, page, annotation and form-field actions (/AA), outline items, link annotations, and along
  every /Next chain (one action or an array of them);
- a script anywhere (a /JS entry), whatever refers to it, or nothing at all;
- an entry of the /Names dictionary other than named destinations (/Dests) and appearances (/AP):
  /JavaScript, /EmbeddedFiles, /Templates, /Pages, /URLS, /IDS, /Renditions, /AlternatePresentations;
- an XFA form (/XFA in the AcroForm, /NeedsRendering in the catalog), embedded or associated files
  (/EmbeddedFile, /EF, /AF, /Collection), or an annotation that plays or opens something
  (FileAttachment, Sound, Movie, Screen, RichMedia, 3D).

"Every object" is two walks sharing one visited set: everything reachable from the trailer, and every
object the cross-reference data lists (the objects of every incremental update, referenced or not). The
walk reads dictionaries only: no content stream is decoded (pypdf unpacks object streams itself). Its
size is bounded: a file of more objects than any scanned document has is refused as unreadable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from mtb.errors import Unprocessable

PDF_SCRIPT = "PDF 文件含有脚本（JavaScript）"
PDF_EMBEDDED = "PDF 文件含有嵌入的附件"
PDF_LAUNCH = "PDF 文件含有启动程序或导入数据的动作"
PDF_FORM = "PDF 文件含有动态表单（XFA）、表单模板或提交数据的动作"
PDF_OUTSIDE = "PDF 文件含有打开外部文件、网址或多媒体的链接或动作"

# The only action a scanned document may carry.
ALLOWED_ACTIONS = frozenset({"GoTo"})
# Action types whose name means nothing else in a PDF: refused wherever a dictionary carries them as /S,
# even outside any place a viewer looks for actions (other dictionaries use /S too: a transparency group's
# /S /Transparency, a border style's /S /D, a structure element's /S /Link).
_ACTION_REASONS = {
    "JavaScript": PDF_SCRIPT, "RichMediaExecute": PDF_SCRIPT, "Launch": PDF_LAUNCH, "ImportData": PDF_LAUNCH,
    "GoToE": PDF_EMBEDDED, "SubmitForm": PDF_FORM, "ResetForm": PDF_FORM, "GoToR": PDF_OUTSIDE,
    "GoToDp": PDF_OUTSIDE, "URI": PDF_OUTSIDE, "Thread": PDF_OUTSIDE, "Sound": PDF_OUTSIDE,
    "Movie": PDF_OUTSIDE, "Rendition": PDF_OUTSIDE, "GoTo3DView": PDF_OUTSIDE, "Hide": PDF_OUTSIDE,
    "Named": PDF_OUTSIDE, "SetOCGState": PDF_OUTSIDE, "Trans": PDF_OUTSIDE,
}
_NAMES_ALLOWED = frozenset({"Dests", "AP"})
_NAMES_REASONS = {"JavaScript": PDF_SCRIPT, "EmbeddedFiles": PDF_EMBEDDED, "Templates": PDF_FORM,
                  "Pages": PDF_FORM}
_ANNOTATIONS_REFUSED = {"FileAttachment": PDF_EMBEDDED, "Sound": PDF_OUTSIDE, "Movie": PDF_OUTSIDE,
                        "Screen": PDF_OUTSIDE, "RichMedia": PDF_OUTSIDE, "3D": PDF_OUTSIDE}
_KEYS_REFUSED = {"JS": PDF_SCRIPT, "XFA": PDF_FORM, "NeedsRendering": PDF_FORM, "EF": PDF_EMBEDDED,
                 "AF": PDF_EMBEDDED, "Collection": PDF_EMBEDDED, "RichMediaContent": PDF_OUTSIDE}
# Entries whose value is an action (a dictionary), or for /Next an action or an array of them.
_ACTION_KEYS = frozenset({"A", "OpenAction", "Next", "PA"})
# More objects than this is no scanned document (50 pages of scans take a few hundred).
MAX_OBJECTS = 200_000
# An indirect reference to an indirect reference ...: followed this far.
_MAX_HOPS = 32


def active_content(reader: PdfReader) -> str | None:
    """Why this PDF may not be uploaded (a sentence to show), or None when it carries nothing active."""
    names = _resolved(reader.root_object.get("/Names"))
    if isinstance(names, DictionaryObject):
        for key in names:
            name = _bare(key)
            if name not in _NAMES_ALLOWED:
                return _NAMES_REASONS.get(name, PDF_OUTSIDE)
    return _Walk().run(_roots(reader))


def _roots(reader: PdfReader) -> Iterator[Any]:
    yield reader.trailer
    for generation, numbers in reader.xref.items():
        for number in numbers:
            yield IndirectObject(number, generation, reader)
    for number in reader.xref_objStm:
        yield IndirectObject(number, 0, reader)


def _bare(name: Any) -> str:
    """A name as text without its slash (pypdf has decoded #-escapes); a string used as a name likewise."""
    return str(name).lstrip("/") if name is not None else ""


class _Walk:
    def __init__(self) -> None:
        self.seen: set[tuple[Any, bool]] = set()
        self.count = 0

    def run(self, roots: Iterator[Any]) -> str | None:
        for root in roots:
            found = self._from(root, as_action=False)
            if found is not None:
                return found
        return None

    def _from(self, start: Any, *, as_action: bool) -> str | None:
        stack: list[tuple[Any, bool]] = [(start, as_action)]
        while stack:
            value, action = stack.pop()
            node = self._resolve(value, action)
            if node is None:
                continue
            if isinstance(node, ArrayObject):
                stack.extend((item, action) for item in node)
                continue
            reason = _judge(node, action)
            if reason is not None:
                return reason
            for key, item in node.items():
                name = _bare(key)
                if name in ("Parent", "P"):  # back up the tree: reached from the top anyway
                    continue
                if name == "AA":
                    aa = self._resolve(item, False)
                    if isinstance(aa, DictionaryObject):
                        stack.extend((trigger, True) for trigger in aa.values())
                    continue
                # /A, /OpenAction, /PA hold one action (an /OpenAction array is a destination, and a /Measure's
                # /A an array of number formats); /Next one action or an array of them.
                is_action = name == "Next" or (name in _ACTION_KEYS and isinstance(_resolved(item), DictionaryObject))
                stack.append((item, is_action))
        return None

    def _resolve(self, value: Any, action: bool) -> DictionaryObject | ArrayObject | None:
        """The dictionary or array behind `value` if not walked yet in this role, else None."""
        hops = 0
        key: Any = None
        while isinstance(value, IndirectObject):
            key = (value.idnum, value.generation)
            hops += 1
            if hops > _MAX_HOPS:
                return None
            value = value.get_object()
        if not isinstance(value, DictionaryObject | ArrayObject):
            return None
        mark = (key if key is not None else id(value), action)
        if mark in self.seen:
            return None
        self.seen.add(mark)
        self.count += 1
        if self.count > MAX_OBJECTS:
            raise Unprocessable("pdf_unreadable", "PDF 文件的结构异常（对象过多），请重新导出后上传")
        return value


def _resolved(value: Any) -> Any:
    for _ in range(_MAX_HOPS):
        if not isinstance(value, IndirectObject):
            return value
        value = value.get_object()
    return None


def _judge(node: DictionaryObject, as_action: bool) -> str | None:
    kind = _bare(node.get("/S"))
    if as_action and kind not in ALLOWED_ACTIONS:
        return _ACTION_REASONS.get(kind, PDF_SCRIPT if "/JS" in node else PDF_OUTSIDE)
    if kind in _ACTION_REASONS:
        return _ACTION_REASONS[kind]
    for key in node:
        reason = _KEYS_REFUSED.get(_bare(key))
        if reason is not None:
            return reason
    node_type = _bare(node.get("/Type"))
    if node_type == "EmbeddedFile":
        return PDF_EMBEDDED
    if node_type == "Action" and kind not in ALLOWED_ACTIONS:
        return PDF_OUTSIDE
    subtype = _bare(node.get("/Subtype"))
    if subtype in _ANNOTATIONS_REFUSED and "/Rect" in node:
        return _ANNOTATIONS_REFUSED[subtype]
    return None
