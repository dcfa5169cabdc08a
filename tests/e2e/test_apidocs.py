"""/docs in a real browser under MTB's CSP: Swagger UI renders every operation of /openapi.json, a
"Try it out" reaches the API, and the page loads nothing from another origin and breaks no CSP rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_docs_render_offline_under_the_csp(browser: Any, server: str, shots: Path) -> None:
    schema = httpx.get(f"{server}/openapi.json").json()
    operations = sum(1 for item in schema["paths"].values() for method in item
                     if method in ("get", "post", "put", "patch", "delete"))
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{server}/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() == operations
    assert page.locator(".info .title").inner_text().startswith(schema["info"]["title"])
    page.screenshot(path=str(shots / "01-docs.png"))

    health_id = schema["paths"]["/api/v1/health"]["get"]["operationId"]
    health = page.locator(f"#operations-health-{health_id}")
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    health.locator(".live-responses-table .response-col_status", has_text="200").wait_for()
    assert '"status": "ok"' in health.locator(".live-responses-table .microlight").first.inner_text()
    page.screenshot(path=str(shots / "02-try-it-out.png"))

    origin = urlsplit(server).netloc
    assert requested and all(urlsplit(url).netloc == origin for url in requested if not url.startswith("data:"))
    assert problems == []
    page.close()
