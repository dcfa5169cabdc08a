"""Active content as the viewer sees it: pdfium's own reading of the document, after pypdf's walk
(`mtb/materials/pdfactive.py`).

The walk judges the document as pypdf reads it; `mtb/materials/pdfparse.py` refuses the ways known to make
pypdf and a viewer read different documents. This is the second reader, for the ways not yet known (a
broken cross-reference table pdfium repairs otherwise, say): what pdfium, the engine of the browsers the
reviewers open files in, would run or open. The same rule (`ALLOWED_ACTIONS`: only jumps within the
document) on what pdfium's public API shows:
- document-level JavaScript (the /Names /JavaScript tree), an XFA form, attachments (a fillable AcroForm
  is allowed, as by the walk: an agency's form template filled in on a computer is one);
- every link and annotation of every page: a link's action other than GoTo, an annotation that is an
  attachment, a sound, a movie, a screen, rich media, 3D or an XFA widget;
- the outline (bookmarks): an entry's action other than GoTo.
The open action and the pages' additional actions (/AA) are not exposed by pdfium without running its form
environment; the walk and pdfparse.py cover them.
"""

from __future__ import annotations

import ctypes
from typing import Any

from mtb.materials.pdfactive import PDF_EMBEDDED, PDF_FORM, PDF_LAUNCH, PDF_OUTSIDE, PDF_SCRIPT

# At most this many outline entries are looked at (a scanned certificate has a handful).
MAX_BOOKMARKS = 10_000
# Annotation subtypes (FPDF_ANNOT_*) a scanned document never needs, by what they would do.
_ANNOTATIONS_REFUSED = {"FPDF_ANNOT_FILEATTACHMENT": PDF_EMBEDDED,
                        "FPDF_ANNOT_SOUND": PDF_OUTSIDE, "FPDF_ANNOT_MOVIE": PDF_OUTSIDE,
                        "FPDF_ANNOT_SCREEN": PDF_OUTSIDE, "FPDF_ANNOT_RICHMEDIA": PDF_OUTSIDE,
                        "FPDF_ANNOT_THREED": PDF_OUTSIDE, "FPDF_ANNOT_XFAWIDGET": PDF_FORM}


def _raw() -> Any:
    from pypdfium2 import raw

    return raw


def _action_reason(raw: Any, action: Any) -> str | None:
    if not action:
        return None
    kind = raw.FPDFAction_GetType(action)
    if kind == raw.PDFACTION_GOTO:
        return None
    return PDF_LAUNCH if kind == raw.PDFACTION_LAUNCH else (PDF_OUTSIDE if kind in (
        raw.PDFACTION_URI, raw.PDFACTION_REMOTEGOTO, raw.PDFACTION_EMBEDDEDGOTO) else PDF_SCRIPT)


def document_active_content(document: Any) -> str | None:
    """What the whole document (not its pages) would run or open, as pdfium reads it."""
    raw = _raw()
    handle = document.raw
    if raw.FPDFDoc_GetJavaScriptActionCount(handle) > 0:
        return PDF_SCRIPT
    if raw.FPDF_GetFormType(handle) in (raw.FORMTYPE_XFA_FULL, raw.FORMTYPE_XFA_FOREGROUND):
        return PDF_FORM
    if raw.FPDFDoc_GetAttachmentCount(handle) > 0:
        return PDF_EMBEDDED
    pending = [raw.FPDFBookmark_GetFirstChild(handle, None)]
    seen = 0
    while pending and seen < MAX_BOOKMARKS:
        bookmark = pending.pop()
        if not bookmark:
            continue
        seen += 1
        if reason := _action_reason(raw, raw.FPDFBookmark_GetAction(bookmark)):
            return reason
        pending.append(raw.FPDFBookmark_GetNextSibling(handle, bookmark))
        pending.append(raw.FPDFBookmark_GetFirstChild(handle, bookmark))
    return None


def page_active_content(page: Any) -> str | None:
    """What a page's links and annotations would run or open, as pdfium reads them."""
    raw = _raw()
    position, link = ctypes.c_int(0), raw.FPDF_LINK()
    while raw.FPDFLink_Enumerate(page.raw, ctypes.byref(position), ctypes.byref(link)):
        if reason := _action_reason(raw, raw.FPDFLink_GetAction(link)):
            return reason
    refused = {getattr(raw, name): reason for name, reason in _ANNOTATIONS_REFUSED.items() if hasattr(raw, name)}
    for index in range(raw.FPDFPage_GetAnnotCount(page.raw)):
        annotation = raw.FPDFPage_GetAnnot(page.raw, index)
        if not annotation:
            continue
        try:
            if reason := refused.get(raw.FPDFAnnot_GetSubtype(annotation)):
                return reason
            link = raw.FPDFAnnot_GetLink(annotation)
            if link and (reason := _action_reason(raw, raw.FPDFLink_GetAction(link))):
                return reason
        finally:
            raw.FPDFPage_CloseAnnot(annotation)
    return None
