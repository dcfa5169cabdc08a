"""Every day a request may name is bounded (issue 16, item 9): outside 1900-01-01..2199-12-31 the answer is
422 `invalid_request` naming the field, never a 500 (0001-01-01 in an export's `from` once overflowed).

The inputs are found by walking the app itself (the OpenAPI document, which holds the hot routes'
parameters too, and every route's declared parameters and bodies, pages included), so a new date input
without a case here fails `test_every_date_input_has_a_case`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import date
from typing import Any, get_args

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from mtb.app import create_app
from mtb.catalog.document import CatalogDocument
from mtb.identity.models import StaffRole
from mtb.qualifications.keys import create_hospital_key
from mtb.settings import get_settings
from mtb.timeutil import FIRST_DAY, LAST_DAY
from tests.factories import SHENNONGJIA, Seed, reference_catalogs

# Outside the range, in every spelling a client could send; pydantic refuses some as malformed and the
# rest as out of range: either way 422 invalid_request.
OUTSIDE = ("0001-01-01", "1000-06-15", "1899-12-31", "2200-01-01", "9999-12-31", "10000-01-01",
           "+10000-01-01", "-0001-01-01", "99999-12-31", "0000-00-00", "1899-12-31T23:59:59")
EDGES = (FIRST_DAY.isoformat(), LAST_DAY.isoformat())

Send = Callable[[httpx.AsyncClient, dict[str, Any], str], Awaitable[httpx.Response]]
Input = tuple[str, str, str]  # (method, path, field as the error names it: query.from, body.valid_until)


def _mentions_date(schema: Any) -> bool:
    return '"format": "date"' in json.dumps(schema)


def openapi_date_inputs() -> Iterator[Input]:
    doc = create_app(get_settings()).openapi()
    components = doc.get("components", {}).get("schemas", {})
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for param in op.get("parameters", []):
                if _mentions_date(param.get("schema")):
                    yield method.upper(), path, f"{param['in']}.{param['name']}"
            body = op.get("requestBody", {}).get("content", {})
            for media in body.values():
                ref = media.get("schema", {}).get("$ref", "")
                schema = components.get(ref.rsplit("/", 1)[-1], media.get("schema", {}))
                for name, prop in schema.get("properties", {}).items():
                    if _mentions_date(prop):
                        yield method.upper(), path, f"body.{name}"


def _is_date(annotation: Any) -> bool:
    if annotation is date:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return any(_is_date(f.annotation) for f in annotation.model_fields.values())
    return any(_is_date(a) for a in get_args(annotation))


def declared_date_inputs() -> Iterator[Input]:
    """Parameters and bodies as every route (pages included, which the OpenAPI leaves out) declares them."""
    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, APIRoute]]:
        for route in routes:
            if type(route).__name__ == "_IncludedRouter":
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute):
                yield prefix + route.path, route
    def flat(dependant: Dependant) -> Iterator[Dependant]:
        yield dependant
        for sub in dependant.dependencies:
            yield from flat(sub)
    for path, route in walk(create_app(get_settings()).routes, ""):
        for dep in flat(route.dependant):
            yield from _declared(path, route, dep)


def _declared(path: str, route: APIRoute, dependant: Dependant) -> Iterator[Input]:
    fields = [(kind, p) for kind, params in (("query", dependant.query_params), ("path", dependant.path_params),
                                             ("header", dependant.header_params),
                                             ("cookie", dependant.cookie_params)) for p in params]
    for kind, p in fields:
        if _is_date(p.field_info.annotation):
            yield from ((method, path, f"{kind}.{p.alias}") for method in route.methods)
    for p in dependant.body_params:
        annotation = p.field_info.annotation
        names = ([name for name, f in annotation.model_fields.items() if _is_date(f.annotation)]
                 if isinstance(annotation, type) and issubclass(annotation, BaseModel)
                 else [p.alias] if _is_date(annotation) else [])
        yield from ((method, path, f"body.{name}") for name in names for method in route.methods)


async def _export(client: httpx.AsyncClient, world: dict[str, Any], table: str, name: str, day: str) -> httpx.Response:
    return await client.get(f"/api/v1/admin/exports/{table}.csv", params={name: day}, headers=world["admin"])


async def _eligibility(client: httpx.AsyncClient, world: dict[str, Any], day: str) -> httpx.Response:
    params = {"id_number": world["id_number"], "disease_code": "BJ-HYPERTENSION", "on": day}
    return await client.get("/api/v1/eligibility", params=params, headers={"X-Api-Key": world["key"]})


async def _eligibility_body(client: httpx.AsyncClient, world: dict[str, Any], day: str) -> httpx.Response:
    body = {"id_number": world["id_number"], "disease_code": "BJ-HYPERTENSION", "on": day}
    return await client.post("/api/v1/eligibility", json=body, headers={"X-Api-Key": world["key"]})


async def _cross_region(client: httpx.AsyncClient, world: dict[str, Any], name: str, day: str) -> httpx.Response:
    person = await world["seed"].person(name=f"异地{len(world['people'])}")
    world["people"].append(person)
    return await client.post("/api/v1/cross-region-filings", headers=await world["seed"].login(person),
                             json={"treatment_region_code": SHENNONGJIA, name: day})


CASES: dict[Input, Send] = {
    ("GET", "/api/v1/admin/exports/applications.csv", "query.from"):
        lambda c, w, d: _export(c, w, "applications", "from", d),
    ("GET", "/api/v1/admin/exports/applications.csv", "query.to"):
        lambda c, w, d: _export(c, w, "applications", "to", d),
    ("GET", "/api/v1/admin/exports/decisions.csv", "query.from"):
        lambda c, w, d: _export(c, w, "decisions", "from", d),
    ("GET", "/api/v1/admin/exports/decisions.csv", "query.to"):
        lambda c, w, d: _export(c, w, "decisions", "to", d),
    ("GET", "/api/v1/eligibility", "query.on"): _eligibility,
    ("POST", "/api/v1/eligibility", "body.on"): _eligibility_body,
    ("POST", "/api/v1/cross-region-filings", "body.valid_from"):
        lambda c, w, d: _cross_region(c, w, "valid_from", d),
    ("POST", "/api/v1/cross-region-filings", "body.valid_until"):
        lambda c, w, d: _cross_region(c, w, "valid_until", d),
}


def test_every_date_input_has_a_case() -> None:
    found = set(openapi_date_inputs()) | set(declared_date_inputs())
    assert found - CASES.keys() == set(), "a date input without a bound test: add it to CASES"
    assert CASES.keys() - found == set(), "these cases name inputs that no longer exist"


@pytest.mark.parametrize("key", list(CASES), ids=[f"{m} {p} {f}" for m, p, f in CASES])
async def test_a_day_outside_the_range_is_422(key: Input, client: httpx.AsyncClient, seed: Seed) -> None:
    await seed.catalogs()
    admin = await seed.staff_login(await seed.staff("bj_admin", StaffRole.admin))
    async with seed.sessionmaker() as s, s.begin():
        _row, api_key = await create_hospital_key(s, "BJ-EX-0001")
    holder = await seed.person("zhang")
    world = {"seed": seed, "admin": admin, "key": api_key, "people": [], "id_number": holder.id_number}
    send = CASES[key]
    field = key[2]
    for day in OUTSIDE:
        response = await send(client, world, day)
        assert response.status_code == 422, (day, response.text[:300])
        answer = response.json()
        assert answer["error"] == "invalid_request", (day, answer)
        assert field in {f["field"] for f in answer["fields"]}, (day, answer)
    for day in EDGES:  # the range's own ends are taken
        response = await send(client, world, day)
        assert response.status_code < 500, (day, response.text[:300])
        if response.status_code == 422:
            assert field not in {f["field"] for f in response.json().get("fields", [])}, (day, response.text)


@pytest.mark.parametrize("day", list(OUTSIDE[:6]))
def test_a_catalog_effective_outside_the_range_is_refused(day: str) -> None:
    """A catalog file (loaded by the CLI or uploaded on the administrator's page) names a day too."""
    document = reference_catalogs()[0].document.model_dump(mode="json")
    with pytest.raises(ValidationError) as refused:
        CatalogDocument.model_validate({**document, "effective_from": day})
    assert any(e["loc"] == ("effective_from",) for e in refused.value.errors())
