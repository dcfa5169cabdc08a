"""Steps of review tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.applications.helpers import (
    BEIJING_MATERIALS,
    BEIJING_SELF,
    HUBEI,
    HUBEI_MATERIALS,
    create,
    submit,
    upload_all,
)
from tests.factories import Person, Seed


async def submitted(client: httpx.AsyncClient, seed: Seed, person: Person, *, hubei: bool = False,
                    **overrides: Any) -> tuple[str, dict[str, str]]:
    headers = await seed.login(person)
    payload = (HUBEI if hubei else BEIJING_SELF) | overrides
    response = await create(client, headers, **payload)
    assert response.status_code == 201, response.text
    app_id = response.json()["id"]
    await upload_all(client, headers, app_id, HUBEI_MATERIALS if hubei else BEIJING_MATERIALS)
    assert (await submit(client, headers, app_id)).status_code == 200
    return app_id, headers


async def claim(client: httpx.AsyncClient, headers: dict[str, str], app_id: str) -> httpx.Response:
    return await client.post(f"/api/v1/review/applications/{app_id}/claim", headers=headers)


async def decide(client: httpx.AsyncClient, headers: dict[str, str], app_id: str, outcome: str,
                 reasons: list[dict[str, str]] | None = None, **extra: Any) -> httpx.Response:
    """A decision; an approval confirms unmarked materials unless the test says otherwise (the approval
    guard itself is tested in tests/review/test_workbench.py)."""
    if outcome == "approve" and not {"materials", "all_acceptable", "confirm_unmarked"} & extra.keys():
        extra["confirm_unmarked"] = True
    return await client.post(f"/api/v1/review/applications/{app_id}/decision", headers=headers,
                             json={"outcome": outcome, "reasons": reasons or [], **extra})
