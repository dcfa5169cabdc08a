"""The request body limit, enforced on the bytes that really arrive (pure ASGI middleware).

A declared Content-Length says nothing about a chunked body (no length at all) or about a client that
lies, so besides refusing a declared length above the limit before reading anything, the middleware
counts the body as the app reads it. Steps once the count passes the limit:

1. `receive` raises `BodyTooLarge` into the app (now and on every later call), so whatever was reading
   the body (the form parser, a page) stops there and no more of the body is read.
2. Whatever the app then answers (FastAPI turns a failed form read into a 400) is dropped, as long as
   it has not started a response yet, and the request is answered 413 `file_too_large` instead.
3. If the app had already started its response, another one cannot be sent: the error is raised on and
   the server ends the connection.

Nothing of the body reaches storage: the limit is checked before the app sees each chunk, and the
form parser removes its spooled parts when reading fails.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mtb.materials.storage import too_large_detail
from mtb.settings import Settings

# The answer a browser's own form post gets (not the API's JSON): a page saying the same (app.py makes it).
PageAnswer = Callable[[Scope, int, str, str], Response]

MIB = 1024 * 1024
# One file plus the form around it (the other fields, the multipart boundaries).
FORM_MARGIN = MIB


class BodyTooLarge(Exception):
    """Raised into the app by `receive` once the request body has passed the limit."""


class BodyLimit:
    def __init__(self, app: ASGIApp, *, settings: Settings, page: PageAnswer | None = None) -> None:
        self.app = app
        self.limit = settings.max_upload_bytes + FORM_MARGIN
        self.detail = too_large_detail(settings.max_upload_bytes)
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_too_large(scope):
            await self._refuse(scope, receive, send)
            return
        received = 0
        exceeded = started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the answer is the 413 below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send)

    def _declared_too_large(self, scope: Scope) -> bool:
        """A Content-Length above the limit, or one that is not a plain number."""
        for name, value in scope["headers"]:
            if name == b"content-length" and not (value.isdigit() and int(value) <= self.limit):
                return True
        return False

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response: Response = JSONResponse({"error": "file_too_large", "detail": self.detail}, status_code=413)
        if self.page is not None and _wants_page(scope):
            response = self.page(scope, 413, "file_too_large", self.detail)
        await response(scope, receive, send)


def _wants_page(scope: Scope) -> bool:
    """A browser's form post from a page (no script): not the API, not the page script's XHR."""
    if scope["path"].startswith("/api/"):
        return False
    headers = dict(scope["headers"])
    return b"x-requested-with" not in headers and b"text/html" in headers.get(b"accept", b"")
