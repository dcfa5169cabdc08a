"""Refusals on the FHIR routes as OperationOutcome (FHIR R4 §3.1.0.4), carrying MTB's stable error code.

The status code is the one the rest of the API answers; the issue's `code` is FHIR's issue type for it,
`details.coding` holds MTB's error code (system `urn:mtb:error`), so a client branches on the same codes
as everywhere else, and `details.text` the sentence a person reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

FHIR_PREFIX = "/api/v1/fhir"
ERROR_SYSTEM = "urn:mtb:error"
FHIR_JSON = "application/fhir+json"

# HTTP status → FHIR issue type (http://hl7.org/fhir/issue-type)
ISSUE_TYPES: dict[int, str] = {
    400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
    409: "conflict", 410: "deleted", 413: "too-costly", 415: "not-supported", 422: "invalid",
    429: "throttled", 500: "exception", 503: "transient", 507: "no-store",
}


def is_fhir_path(path: str) -> bool:
    return path == FHIR_PREFIX or path.startswith(FHIR_PREFIX + "/")


def operation_outcome(status: int, code: str, detail: str, fields: list[dict[str, Any]] | None = None
                      ) -> dict[str, Any]:
    """One error issue with MTB's code and message; a malformed request adds one issue per field, its
    name and what is wrong with it in `diagnostics`."""
    issue_type = ISSUE_TYPES.get(status, "exception" if status >= 500 else "processing")
    issues: list[dict[str, Any]] = [{
        "severity": "error", "code": issue_type,
        "details": {"coding": [{"system": ERROR_SYSTEM, "code": code}], "text": detail}}]
    for field in fields or ():
        issues.append({"severity": "error", "code": issue_type,
                       "diagnostics": f"{field.get('field', '')}: {field.get('message', '')}"})
    return {"resourceType": "OperationOutcome", "issue": issues}


class OutcomeCoding(BaseModel):
    system: Literal["urn:mtb:error"]
    code: str = Field(description="MTB's error code, as `error` in the rest of the API")


class OutcomeDetails(BaseModel):
    coding: list[OutcomeCoding]
    text: str = Field(description="what went wrong, for a person (Chinese)")


class OutcomeIssue(BaseModel):
    severity: Literal["error"]
    code: str = Field(description="FHIR issue type (http://hl7.org/fhir/issue-type)")
    details: OutcomeDetails | None = None
    diagnostics: str | None = Field(None, description="a malformed field and what is wrong with it")


class OperationOutcomeOut(BaseModel):
    """A refusal on the FHIR routes (FHIR R4 OperationOutcome)."""

    resourceType: Literal["OperationOutcome"]  # FHIR's element name
    issue: list[OutcomeIssue]


def outcome_responses(statuses: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the FHIR routes' refusals: OperationOutcome (FastAPI files it under the
    routes' media type, application/fhir+json)."""
    return {status: {"model": OperationOutcomeOut, "description": text} for status, text in statuses.items()}
