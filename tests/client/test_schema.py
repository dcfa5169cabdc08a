"""What a generated client needs from /openapi.json, checked on the document itself: every answer typed
(no schema-less body, no `{}`, no object without fields except declared maps), every refusal in one of
the two error formats, closed sets as enums, unique operation ids (a client's method names)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx

# Objects without fields that are maps by declaration: an event's free-form detail, a JWKS document.
DECLARED_MAPS = {"HistoryEntry.detail", "QualificationEventOut.detail", "ChannelOut.keys"}
# Fields holding a closed set of values: an enum wherever they appear.
CLOSED = {"status", "outcome", "verdict", "role", "insurance_type", "actor_kind", "token_type", "from_status",
          "to_status", "result", "relation", "severity"}
# ... except where the name means something else.
OPEN = {"NotReady.status"}


def schemas(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.get("properties", {}).items():
            yield from schemas(value, f"{where}.{key}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield from schemas(node[key], where)
        for key in ("anyOf", "oneOf", "allOf"):
            for item in node.get(key, []):
                yield from schemas(item, where)


def is_enum(node: dict[str, Any], components: dict[str, Any]) -> bool:
    if "enum" in node or "const" in node:
        return True
    if "$ref" in node:
        return is_enum(components[node["$ref"].split("/")[-1]], components)
    options = [o for o in node.get("anyOf", []) if o.get("type") != "null"]
    return bool(options) and all(is_enum(o, components) for o in options)


async def test_every_answer_and_field_is_typed(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    components = document["components"]["schemas"]
    problems: list[str] = []
    for name, schema in components.items():
        for where, node in schemas(schema, name):
            if node == {} or (set(node) <= {"title", "description", "default"} and where != name):
                problems.append(f"{where}: no type (a generated client sees Any)")
            if node.get("type") == "object" and "properties" not in node and where not in DECLARED_MAPS:
                problems.append(f"{where}: an object without fields")
            field = where.rsplit(".", 1)[-1]
            if (field in CLOSED and where not in OPEN and "properties" not in node and node.get("type") != "null"
                    and not is_enum(node, components)):
                problems.append(f"{where}: a closed set of values declared as a plain {node.get('type')}")
    ids = Counter()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            ids[operation["operationId"]] += 1
            for status, answer in operation["responses"].items():
                content = answer.get("content", {})
                if not content and status not in ("204", "304"):
                    problems.append(f"{method.upper()} {path} {status}: no body declared")
                for media, body in content.items():
                    schema = body.get("schema")
                    if not schema:
                        problems.append(f"{method.upper()} {path} {status} {media}: no schema")
                    elif int(status) >= 400 and schema.get("$ref", "").split("/")[-1] not in (
                            "ErrorOut", "OperationOutcomeOut"):
                        problems.append(f"{method.upper()} {path} {status}: not an error format ({schema})")
    problems += [f"operationId {i} used {n} times" for i, n in ids.items() if n > 1]
    problems += [f"{name}: two models share a name (FastAPI qualified it with its module; a generator keeps one)"
                 for name in components if "__" in name]
    assert not problems, "\n".join(problems)


def test_every_raised_code_is_documented_under_its_status() -> None:
    """The codes come from the source: a code written in a `raise` is in the document under its class's
    status, and so are those raised through a helper and declared (the channel assertion's)."""
    from mtb.error_codes import error_codes

    codes = error_codes()
    assert "application_not_found" in codes[404] and "claimed_by_other" in codes[409]
    assert "too_many_uploads" in codes[429] and "storage_unavailable" in codes[503]
    assert "invalid_credentials" in codes[401] and "materials_incomplete" in codes[422]
    assert "database_unavailable" in codes[503] and "disk_full" in codes[507]
    assert "assertion_replayed" in codes[401]


async def test_each_operation_lists_its_error_codes(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    submit = document["paths"]["/api/v1/applications/{application_id}/submit"]["post"]["responses"]
    assert "materials_incomplete" in submit["422"]["x-mtb-error-codes"]
    assert "already_submitted" in submit["409"]["x-mtb-error-codes"]
    assert "`application_not_found`" in submit["404"]["description"]
    for item in document["paths"].values():
        for operation in item.values():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert answer.get("x-mtb-error-codes"), (operation["operationId"], status)
