"""The authorization matrix: every route of the app × every actor, table-driven.

The table (matrix.py) is checked against the app's own route list, so a new route without an entry fails.
Each route is tried on the same world, put back fresh before every route (tests/security/world.py), by anonymous, applicant (an agent), beneficiary, another applicant,
a reviewer of the region and of the other region, a window clerk, an administrator and a hospital key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine

from mtb.app import create_app
from mtb.settings import Settings, get_settings
from tests.factories import Seed
from tests.files import document_photo
from tests.security.matrix import MATRIX, Expect
from tests.security.world import ACTORS, Copy, World, build, client_for, fill, put_back, take

DENIED_404 = {"application_not_found", "qualification_not_found", "notification_not_found", "sample_not_found",
              "staff_not_found", "hospital_key_not_found", "person_not_found", "document_not_found", "not_found"}
EXTRA: dict[tuple[str, str], dict[str, Any]] = {
    # Bodies that pass validation, so the answer is about access (validation comes first otherwise).
    ("POST", "/api/v1/qualifications/{qualification_id}/change"): {"json": {"hospital_code": "BJ-EX-0002"}},
    ("POST", "/api/v1/review/applications/{application_id}/decision"): {"json": {"outcome": "approve"}},
    ("POST", "/api/v1/review/samples/{sample_id}/check"): {"json": {"result": "confirmed"}},
    ("POST", "/api/v1/admin/qualifications/{qualification_id}/revoke"): {"json": {"reason": "test"}},
    ("POST", "/api/v1/cross-region-filings"): {"json": {"treatment_region_code": "429021"}},
    ("GET", "/apply"): {"params": {"region": "110000"}},
    ("GET", "/api/v1/eligibility"): {"params": {"id_number": "11010519800101901X", "disease_code": "BJ-TUMOR-CHEMO"}},
    ("POST", "/api/v1/eligibility"): {"json": {"id_number": "11010519800101901X", "disease_code": "BJ-TUMOR-CHEMO"}},
}
UPLOADS = {"/api/v1/applications/{application_id}/materials", "/applications/{app_id}/materials",
           "/staff/window/{app_id}/materials", "/api/v1/applications/{application_id}/materials/{material_id}"}


def app_routes() -> Iterator[tuple[str, str]]:
    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            if type(route).__name__ == "_IncludedRouter":
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute):
                for method in sorted(route.methods):
                    yield method, prefix + route.path
    yield from walk(create_app(get_settings()).routes, "")


def test_every_route_has_a_row() -> None:
    routes = set(app_routes())
    assert routes - MATRIX.keys() == set(), "add these routes to tests/security/matrix.py"
    assert MATRIX.keys() - routes == set(), "these rows name routes that no longer exist"


def outcome(response: httpx.Response) -> Expect:
    status = response.status_code
    assert status < 500, response.text[:300]
    if status in (302, 303, 307):
        location = response.headers["location"]
        if location.startswith("/staff/login"):
            return "staff_login"
        if location.startswith("/login"):
            return "login"
        return "ok"
    if status in (401, 403):
        return status
    if status == 404:
        if "application/fhir+json" in response.headers.get("content-type", ""):  # an OperationOutcome
            code = response.json()["issue"][0]["details"]["coding"][0]["code"]
        elif "application/json" in response.headers.get("content-type", ""):
            code = response.json().get("error")
        else:
            found = re.search(r"错误代码：(\w+)", response.text)
            code = found.group(1) if found else "not_found"
        return 404 if code in DENIED_404 else "ok"
    return "ok"


ROUTES = sorted(MATRIX)


@pytest.fixture(scope="module")
def built() -> dict[str, Copy]:
    """The world of the first route, copied for the others (one module: one world)."""
    return {}


async def fresh_world(seed: Seed, settings: Settings, sync_engine: Engine, built: dict[str, Copy],
                      tmp_path_factory: pytest.TempPathFactory) -> World:
    if settings.storage_url:  # files on object storage (MTB_TEST_STORAGE_URL): built for every route
        return await build(seed)
    if "world" not in built:
        world = await build(seed)
        built["world"] = take(world, sync_engine, settings, tmp_path_factory.mktemp("matrix-world"))
        return world
    return put_back(built["world"], sync_engine, settings)


@pytest.mark.parametrize("route_index", range(len(ROUTES)), ids=[f"{m} {p}" for m, p in ROUTES])
async def test_route_for_every_actor(route_index: int, app_and_client: tuple[Any, httpx.AsyncClient],
                                     seed: Seed, settings: Settings, sync_engine: Engine, built: dict[str, Copy],
                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    route = ROUTES[route_index]
    app, _client = app_and_client
    world = await fresh_world(seed, settings, sync_engine, built, tmp_path_factory)
    method, template = route
    path = fill(template, world)
    extra = dict(EXTRA.get(route, {}))
    if template in UPLOADS:
        extra["files"] = {"file": ("x.jpg", document_photo(seed=7), "image/jpeg")}
        if method == "POST":
            extra["data"] = {"kind": "supplementary"}
    results: dict[str, Expect] = {}
    for actor in ACTORS:
        async with client_for(app, world, actor) as client:
            await client.get("/login")  # every actor carries a CSRF token: the matrix tests access, not CSRF
            token = client.cookies.get("mtb_csrf") or ""
            headers = world.headers(actor, page=not template.startswith("/api/"))
            if not template.startswith("/api/") and method == "POST":
                data = dict(extra.get("data", {})) | {"csrf_token": token}
                kwargs = {k: v for k, v in extra.items() if k != "data"} | {"data": data}
            elif method in ("POST", "PUT") and "files" not in extra and "json" not in extra:
                kwargs = extra | {"json": {}}
            else:
                kwargs = extra
            response = await client.request(method, path, headers=headers, follow_redirects=False, **kwargs)
            results[actor] = outcome(response)
    expected = MATRIX[route]
    assert results == expected, {a: (results[a], expected[a]) for a in ACTORS if results[a] != expected[a]}
