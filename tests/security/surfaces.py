"""Everything one actor can read: every GET route of the matrix with the world's ids, as that actor
(API routes with the bearer token or API key, pages with the session cookie), plus the login answers.
Used by the properties that hold over every answer (no-store, what a masked ID number can be completed
with)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.security.matrix import MATRIX
from tests.security.world import World, client_for, fill

GET_ROUTES = sorted(path for method, path in MATRIX if method == "GET")
# Parameters that make a route answer with content rather than a validation error.
PARAMS: dict[str, dict[str, str]] = {
    "/apply": {"region": "110000"},
}


@dataclass(frozen=True)
class Seen:
    template: str
    path: str
    response: httpx.Response


async def surfaces(app: Any, world: World, actor: str, *, extra: dict[str, dict[str, str]] | None = None,
                   base_url: str = "http://mtb.test") -> AsyncIterator[Seen]:
    """Every GET answer `actor` gets (following no redirects), one per route of the matrix."""
    params = PARAMS | (extra or {})
    async with client_for(app, world, actor) as client:
        client.base_url = httpx.URL(base_url)
        for template in GET_ROUTES:
            path = fill(template, world)
            headers = world.headers(actor, page=not template.startswith("/api/"))
            response = await client.get(path, headers=headers, params=params.get(template),
                                        follow_redirects=False)
            yield Seen(template, path, response)
