"""Steps of qualification tests: get a person approved, ask the eligibility API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.applications.helpers import BEIJING_MATERIALS, HUBEI_MATERIALS, submit, upload_all
from tests.review.helpers import claim, decide


async def approve(client: httpx.AsyncClient, reviewer: dict[str, str], app_id: str) -> dict[str, Any]:
    assert (await claim(client, reviewer, app_id)).status_code == 200
    response = await decide(client, reviewer, app_id, "approve")
    assert response.status_code == 200, response.text
    return response.json()


async def submit_followup(client: httpx.AsyncClient, headers: dict[str, str], app: dict[str, Any],
                          hubei: bool) -> None:
    """Upload what the change or renewal asks for (per the catalog), then submit."""
    needed = [c["kind"] for c in app["checklist"] if c["required"] and not c["generated"]]
    assert set(needed) <= set(HUBEI_MATERIALS if hubei else BEIJING_MATERIALS)
    await upload_all(client, headers, app["id"], needed)
    response = await submit(client, headers, app["id"])
    assert response.status_code == 200, response.text


async def eligible(client: httpx.AsyncClient, key: str, **params: str) -> httpx.Response:
    return await client.get("/api/v1/eligibility", params=params, headers={"X-Api-Key": key})
