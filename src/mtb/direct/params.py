"""Request parameters for the hot routes, read without FastAPI's per-request dependency solving.

FastAPI inspects every parameter's annotation on every request; on the hot reads that cost more than
the database work (docs/benchmarks.md). These routes take only `request: Request`, read their
parameters here with the same validation and the same 422 answers, and describe them in the OpenAPI
through `openapi_extra` (`hot_route_openapi`), so clients and the fuzz tests see the same contract.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def path_uuid(request: Request, name: str) -> uuid.UUID:
    raw = request.scope["path_params"][name]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise RequestValidationError([{"loc": ("path", name), "msg": "Input should be a valid UUID",
                                       "type": "uuid_parsing", "input": raw}]) from None


def query_model(request: Request, model: type[M]) -> M:
    """The query string as `model`: the last value of a repeated name, as `dict(request.query_params)`
    gives, without building Starlette's multi-dict."""
    query = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None


def header(request: Request, name: bytes) -> str | None:
    """A request header by its lower-case name."""
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _inline_defs(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with every `#/$defs/X` reference replaced by X itself: the model's own `$defs` do not reach
    the OpenAPI document's components, so a reference to them would dangle (a generated client refused
    the queue's `status` filter for it)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_defs(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline_defs(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_defs(item, defs) for item in node]
    return node


def hot_route_openapi(*, path: tuple[str, ...] = (), query: type[BaseModel] | None = None,
                      headers: tuple[dict[str, Any], ...] = (), bearer: bool = False) -> dict[str, Any]:
    """The OpenAPI operation fields FastAPI would have made from the parameters read above."""
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for name in path]
    if query is not None:
        schema = query.model_json_schema()
        required = set(schema.get("required", ()))
        parameters += [{"name": name, "in": "query", "required": name in required,
                        "schema": _inline_defs(prop, schema.get("$defs", {}))}
                       for name, prop in schema["properties"].items()]
    parameters += list(headers)
    extra: dict[str, Any] = {"parameters": parameters}
    if bearer:
        extra["security"] = [{"HTTPBearer": []}]
    return extra
