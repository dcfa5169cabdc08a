"""Domain errors: each carries an HTTP status and a stable code, rendered as {"error", "detail"}.

Messages are written for the person who reads them (Chinese); the code is what clients branch on.
"""

from __future__ import annotations

from typing import Any


class MTBError(Exception):
    status_code: int = 400

    def __init__(self, code: str, detail: str, *, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}


class Unauthorized(MTBError):
    status_code = 401


class Forbidden(MTBError):
    status_code = 403


class NotFound(MTBError):
    status_code = 404


class Conflict(MTBError):
    status_code = 409


class PayloadTooLarge(MTBError):
    status_code = 413


class UnsupportedMediaType(MTBError):
    status_code = 415


class Unprocessable(MTBError):
    status_code = 422


class TooManyRequests(MTBError):
    status_code = 429
