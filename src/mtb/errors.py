"""Domain errors: each carries an HTTP status and a stable code, rendered as {"error", "detail"}.

Messages are written for the person who reads them (Chinese); the code is what clients branch on.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    field: str = Field(description="where: `body.id_number`, `query.on`, `path.application_id` …")
    message: str


class ErrorOut(BaseModel):
    """Every refusal: a stable code to branch on, and a sentence a person understands. Some codes add a
    key of their own (listed here, so that a client generated from the schema reads them)."""

    error: str = Field(description="the stable code (each operation's responses list those it answers)")
    detail: str = Field(description="what went wrong, for a person (Chinese)")
    fields: list[FieldError] | None = Field(None, description="invalid_request: each malformed field")
    retry_after: int | None = Field(None, description="429: seconds before trying again (also Retry-After)")
    holder: str | None = Field(None, description="claimed_by_other: the reviewer holding the claim")
    opens_on: str | None = Field(None, description="renewal_not_open: the day renewal opens (YYYY-MM-DD)")
    check: str | None = Field(None, description="not_ready: what is not ready (database, storage, shutdown)")
    remaining_attempts: int | None = Field(None, description="invalid_credentials: failures left before a block")
    known: list[str] | None = Field(None, description="unknown_channel: the region's channel codes")
    materials: list[str] | None = Field(None, description=(
        "materials_unmarked, materials_not_acceptable: the ids of the materials in question"))


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
