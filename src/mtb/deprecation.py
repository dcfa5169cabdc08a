"""How a v1 route is retired (docs/api.md): never removed or changed in place, but marked deprecated in
the OpenAPI document and answered, until its sunset, with RFC 9745's `Deprecation` header (the day it
was deprecated), RFC 8594's `Sunset` (the earliest day it may go, at least six months later) and `Link`s
to its successor and to the documentation. The edge (edge.py) adds the headers to every answer of a
route marked here, whatever the route returns.
"""

from __future__ import annotations

import calendar
from datetime import date
from email.utils import formatdate
from typing import Any

EXTENSION = "x-mtb-deprecation"
NOTICE_MONTHS = 6


def deprecated(since: str, sunset: str, successor: str | None = None) -> dict[str, Any]:
    """Keyword arguments for a route decorator:
    `@router.get("/old", **deprecated("2027-01-04", "2027-07-05", successor="/api/v1/new"))`."""
    start, end = date.fromisoformat(since), date.fromisoformat(sunset)
    if (end.year * 12 + end.month, end.day) < (start.year * 12 + start.month + NOTICE_MONTHS, start.day):
        raise ValueError(f"a deprecated route stays at least six months: {since} → {sunset}")
    info: dict[str, str] = {"since": since, "sunset": sunset}
    if successor is not None:
        info["successor"] = successor
    return {"deprecated": True, "openapi_extra": {EXTENSION: info}}


def _epoch(day: str) -> int:
    return calendar.timegm(date.fromisoformat(day).timetuple())


def deprecation_headers(info: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """`Deprecation: @<seconds>`, `Sunset: <HTTP date>` and the `Link`s, for the route's extension."""
    links = ['</docs>; rel="deprecation"; type="text/html"']
    if "successor" in info:
        links.append(f'<{info["successor"]}>; rel="successor-version"')
    return [(b"deprecation", f"@{_epoch(info['since'])}".encode()),
            (b"sunset", formatdate(_epoch(info["sunset"]), usegmt=True).encode()),
            (b"link", ", ".join(links).encode())]
