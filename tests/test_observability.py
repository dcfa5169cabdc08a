"""Readiness for the load balancer and the Prometheus metrics: what they answer, and to whom."""

from __future__ import annotations

import re
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from mtb.app import create_app
from mtb.settings import Settings
from tests.applications.helpers import BEIJING_MATERIALS, BEIJING_SELF, create, submit, upload_all
from tests.factories import Seed

LOCAL = ("127.0.0.1", 40000)
OUTSIDE = ("198.51.100.7", 40000)


def client_of(app: Any, address: tuple[str, int] = LOCAL) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=address), base_url="http://mtb.test")


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition text, or None when it is absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = name + ("{" + wanted + "}" if labels else "")
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


async def test_ready_when_the_database_and_storage_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health/ready")
    assert (response.status_code, response.json()) == (200, {"status": "ready"})


async def test_not_ready_while_draining(app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_and_client
    app.state.draining = True
    response = await client.get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response.json() == {"error": "not_ready", "detail": "服务正在停止", "check": "shutdown"}
    assert (await client.get("/api/v1/health")).status_code == 200  # liveness stays trivial


async def test_not_ready_without_the_database(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"database_url": "postgresql+psycopg://mtb@127.0.0.1:9/none"}))
    async with client_of(app) as client:
        response = await client.get("/api/v1/health/ready")
    await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.json()["check"] == "database"


async def test_not_ready_when_the_storage_cannot_take_files(settings: Settings, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file-not-a-directory"
    blocked.write_text("x")
    app = create_app(settings.model_copy(update={"storage_path": blocked}))
    async with client_of(app) as client:
        response = await client.get("/api/v1/health/ready")
    await app.state.engine.dispose()
    assert (response.status_code, response.json()["check"]) == (503, "storage")


async def test_metrics_count_the_review_queue_by_region(app_and_client: tuple[Any, httpx.AsyncClient],
                                                        seed: Seed) -> None:
    app, client = app_and_client
    await seed.catalogs()
    headers = await seed.login(await seed.person("zhang"))
    app_id = (await create(client, headers, **BEIJING_SELF)).json()["id"]
    await upload_all(client, headers, app_id, BEIJING_MATERIALS)
    assert (await submit(client, headers, app_id)).status_code == 200
    async with client_of(app) as local:
        response = await local.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert sample(response.text, "mtb_review_queue_depth", region="110000", status="submitted") == 1
    assert sample(response.text, "mtb_review_queue_overdue", region="110000") == 0
    assert sample(response.text, "mtb_jobs_failures_total") is not None


async def test_request_latency_by_route_template(settings: Settings) -> None:
    app = create_app(settings)  # app.py wires Edge to observe_request
    async with client_of(app) as client:
        before = await client.get("/metrics")
        key = {"method": "GET", "route": "/api/v1/applications/{application_id}", "status": "401"}
        count = sample(before.text, "mtb_http_request_duration_seconds_count", **key) or 0
        for _ in range(3):
            await client.get("/api/v1/applications/5a1d0000-0000-4000-8000-000000000001")
        after = await client.get("/metrics")
    await app.state.engine.dispose()
    assert sample(after.text, "mtb_http_request_duration_seconds_count", **key) == count + 3
    assert "5a1d0000" not in after.text  # paths never become labels


@pytest.mark.parametrize(("address", "header", "expected"), [
    (OUTSIDE, None, 403),
    (OUTSIDE, "Bearer wrong-token-wrong-token", 403),
    (OUTSIDE, "Bearer metrics-token-for-the-scraper", 200),
    (("10.1.2.3", 1), None, 200),
    (LOCAL, None, 403),
])
async def test_metrics_only_for_allowed_networks_or_the_token(settings: Settings, address: tuple[str, int],
                                                              header: str | None, expected: int) -> None:
    app = create_app(settings.model_copy(update={
        "metrics_token": SecretStr("metrics-token-for-the-scraper"),
        "metrics_networks": [ip_network("10.0.0.0/8")]}))
    async with client_of(app, address) as client:
        response = await client.get("/metrics", headers={"Authorization": header} if header else {})
    await app.state.engine.dispose()
    assert response.status_code == expected
    if expected == 403:
        assert response.json()["error"] == "metrics_forbidden"


async def test_metrics_from_loopback_by_default(app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_and_client  # the suite's client comes from 198.51.100.7
    assert (await client.get("/metrics")).status_code == 403
    async with client_of(app) as local:
        assert (await local.get("/metrics")).status_code == 200
