"""Every error code MTB answers, by HTTP status, listed in each operation's responses of /openapi.json.

The list is read from MTB's own source when the OpenAPI document is built (once per process): every
`raise <Error>("code", …)` of an MTBError class, the codes the app's handlers and layers answer
themselves, the throttles' codes, and those a module declares (`declare`) because it raises them through
a helper. Reading it from the source keeps the document from drifting away
from the code; tests/client checks that each code an answer carries is listed for its operation and
status. Each operation lists, per status, the codes answered with that status: a client branches on
`error` and may meet a subset of them on a given operation.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from mtb.errors import MTBError

SOURCE = Path(__file__).resolve().parent
EXTENSION = "x-mtb-error-codes"

# Answered by the app's handlers and layers rather than raised as MTBError (app.py, limits.py,
# observability.py).
HANDLED: dict[int, tuple[str, ...]] = {
    400: ("invalid_request",),
    401: ("not_authenticated",),
    403: ("forbidden",),
    404: ("not_found",),
    405: ("method_not_allowed",),
    413: ("payload_too_large", "file_too_large"),
    415: ("unsupported_media_type",),
    422: ("invalid_request", "invalid_text"),
    500: ("internal_error",),
    503: ("not_ready",),
}


_DECLARED: dict[int, set[str]] = defaultdict(set)


def declare(status: int, codes: Iterable[str]) -> None:
    """Codes a module raises through a helper rather than as `Error("code", …)` literals (the scan does
    not see them), e.g. the channel assertion's refusals. Call at import."""
    _DECLARED[status].update(codes)
    error_codes.cache_clear()


def _error_classes() -> dict[str, type[MTBError]]:
    """The error classes of the modules imported so far: called from the app's OpenAPI document, once the
    app (which imports every module with an error class) is built."""
    found: dict[str, type[MTBError]] = {}
    pending: list[type[MTBError]] = [MTBError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending += cls.__subclasses__()
    return found


@cache
def error_codes() -> dict[int, tuple[str, ...]]:
    """status → the codes MTB answers with it, sorted."""
    classes = _error_classes()
    names = "|".join(sorted(re.escape(n) for n in classes))
    raised = re.compile(rf"\b({names})\(\s*\"([a-z][a-z0-9_]*)\"")
    throttled = re.compile(r"count_within\([^)]*?code=\"([a-z][a-z0-9_]*)\"", re.DOTALL)
    codes: dict[int, set[str]] = defaultdict(set)
    for status, handled in (*HANDLED.items(), *_DECLARED.items()):
        codes[status].update(handled)
    for path in SOURCE.rglob("*.py"):
        text = path.read_text("utf-8")
        for name, code in raised.findall(text):
            codes[classes[name].status_code].add(code)
        codes[429].update(throttled.findall(text))
    for cls in classes.values():  # errors whose code is fixed by their class (StorageUnavailable)
        try:
            fixed = cls()  # type: ignore[call-arg]
        except TypeError:
            continue
        codes[fixed.status_code].add(fixed.code)
    return {status: tuple(sorted(found)) for status, found in sorted(codes.items())}


def document_error_codes(document: dict[str, Any]) -> dict[str, Any]:
    """Name the codes in every error answer of every operation (`x-mtb-error-codes` and the description)."""
    codes = error_codes()
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for status, answer in operation.get("responses", {}).items():
                listed = codes.get(int(status)) if status.isdigit() and int(status) >= 400 else None
                if listed:
                    answer[EXTENSION] = list(listed)
                    answer["description"] = (f"{answer.get('description', '')} — "
                                             f"codes: {', '.join(f'`{c}`' for c in listed)}").lstrip(" —")
    return document
