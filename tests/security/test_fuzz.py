"""Fuzzing the API with schemathesis: cases generated from MTB's own OpenAPI document, sent as each role,
half of them aimed at real objects. Zero server errors, and no answer that breaks its own schema.

Bounded for CI (MTB_FUZZ_EXAMPLES per operation and role, 3 by default); bench/fuzz.sh runs it longer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, reject
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from mtb.app import create_app
from mtb.settings import Settings
from tests.factories import Seed
from tests.security.world import World, build

EXAMPLES = int(os.environ.get("MTB_FUZZ_EXAMPLES", "3"))
ROLES = ("anonymous", "beneficiary", "other", "reviewer", "reviewer_other_region", "window", "admin", "hospital")
ID_PARAMS = {"application_id": "application", "material_id": "material", "qualification_id": "qualification",
             "notification_id": "notification", "sample_id": "sample"}


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as running:
        yield running


def test_no_server_error_for_any_generated_request(settings: Settings, portal: BlockingPortal) -> None:
    app = create_app(settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mtb.test")

    async def make_world() -> World:
        return await build(Seed(app.state.sessionmaker, client))

    world = portal.call(make_world)

    async def send(kwargs: dict[str, Any]) -> httpx.Response | None:
        cookies = kwargs.pop("cookies", None) or {}
        try:
            request = client.build_request(**kwargs, cookies=cookies or None)
            await request.aread()  # multipart bodies stay readable for schemathesis' report
        except (TypeError, AttributeError, ValueError):
            return None  # a generated value httpx cannot even encode (e.g. a number as a file)
        return await client.send(request)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    sent, failures = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        for role in ROLES:
            headers = world.headers(role, page=False)

            @given(case=operation.as_strategy())
            @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                                 suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                nonlocal sent
                if case.path_parameters and hash(case.id) % 2 == 0:  # aim half of them at real objects
                    for name, key in ID_PARAMS.items():
                        if name in case.path_parameters:
                            case.path_parameters[name] = world.ids[key]
                kwargs = case.as_transport_kwargs(base_url="http://mtb.test")
                kwargs["headers"] = {k: v for k, v in kwargs["headers"].items() if k != "Authorization"} | headers
                response = portal.call(send, kwargs)
                if response is None:
                    reject()
                sent += 1
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

            try:
                run()
            except Exception as exc:  # noqa: BLE001 — collect every operation's failure, then report them all
                failures.append(f"{operation.method.upper()} {operation.path} as {role}: {str(exc)[:300]}")
    portal.call(client.aclose)
    portal.call(app.state.engine.dispose)
    print(f"schemathesis: {sent} requests over {len(ROLES)} roles")
    assert not failures, "\n".join(failures)
