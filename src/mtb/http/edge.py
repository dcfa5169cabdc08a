"""What every HTTP answer gets on its way out, in one pure ASGI layer: security headers, the renewed
page session cookie, the access log line (method, path, query string, status, milliseconds; ID numbers
masked as the line is made) and the request metrics.

Caching: every answer but the static assets is `Cache-Control: no-store` unless it says otherwise
(application JSON, /me, the login answer, eligibility, FHIR, pages and errors all carry personal data
or depend on who asks). HSTS: an answer over HTTPS (directly, or `X-Forwarded-Proto: https` from a proxy
uvicorn trusts, FORWARDED_ALLOW_IPS) carries `Strict-Transport-Security`.

One layer instead of three `@app.middleware("http")` functions: Starlette's BaseHTTPMiddleware runs
the app in a separate task and pipes the response through a stream, which cost more than the whole
request on the hot paths (docs/benchmarks.md). Here the `send` callable is wrapped and nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mtb.deprecation import EXTENSION, deprecation_headers
from mtb.logs import mask_path, mask_query

log = logging.getLogger("mtb.app")

# A route that has something to say about its request (the eligibility check: who asked about whom, and the
# answer) leaves the fields in `request.state.log_fields`; they go into the request's one access line, so a
# request costs one log record, not two.
LOG_FIELDS = "log_fields"
# A LogRecord's own attributes: `extra` may not name them (logging raises KeyError).
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

# No inline script or style; images may come from blob: (previews before upload).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
NO_STORE = (b"cache-control", b"no-store")
# One year, subdomains included: the service is only ever reached over HTTPS once a browser has seen it.
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
CACHEABLE_PREFIX = ("/static/", "/docs/assets/")  # the only answers a browser or proxy may keep: CSS, scripts, icons

Observer = Callable[[str, str, int, float], None]


def session_cookie_header(name: str, value: str, max_age: int, *, secure: bool) -> bytes:
    """The Set-Cookie value for a page session: HttpOnly, SameSite=Lax, whole site."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = "/"
    morsel["max-age"] = max_age
    morsel["httponly"] = True
    morsel["samesite"] = "lax"
    if secure:
        morsel["secure"] = True
    return morsel.OutputString().encode("latin-1")


class Edge:
    """Adds the security headers an answer does not set itself, the renewed session cookie that a page
    dependency left in `request.state.renewed_session`, and logs and observes every request."""

    def __init__(self, app: ASGIApp, *, session_cookie: str, observe: Observer | None = None) -> None:
        self.app = app
        self.session_cookie = session_cookie
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def edge_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                extra = getattr(scope.get("route"), "openapi_extra", None)
                if extra and EXTENSION in extra and b"deprecation" not in present:  # deprecation.py
                    headers.extend(deprecation_headers(extra[EXTENSION]))
                if b"cache-control" not in present and not scope["path"].startswith(CACHEABLE_PREFIX):
                    headers.append(NO_STORE)
                if scope.get("scheme") == "https" and HSTS[0] not in present:
                    headers.append(HSTS)
                renewed = scope.get("state", {}).get("renewed_session")
                if renewed is not None:
                    token, max_age = renewed
                    headers.append((b"set-cookie", session_cookie_header(
                        self.session_cookie, token, max_age, secure=scope.get("scheme") == "https")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, edge_send)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if self.observe is not None:
                self.observe(scope["method"], template, status, seconds)
            if log.isEnabledFor(logging.INFO):
                fields = {"method": scope["method"], "path": mask_path(scope["path"]), "status": status,
                          "ms": round(seconds * 1000, 1)}
                query = scope.get("query_string")
                if query:  # masked here, so not even the record holds an ID number a client sent
                    fields["query"] = mask_query(query)
                more = scope.get("state", {}).get(LOG_FIELDS)
                if more:  # what the route adds to its one line (already masked by the route)
                    for key, value in more.items():  # never in place of the edge's own, nor a record's
                        if key not in fields and key not in _RECORD_ATTRIBUTES:
                            fields[key] = value
                log.info("request", extra=fields)
