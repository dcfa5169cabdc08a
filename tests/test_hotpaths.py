"""The hot GET routes answer the same through mtb/http/hotpaths.py as through FastAPI's routing
(MTB_HOT_PATHS=false): status, body and headers, for good requests and for every kind of refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mtb.app import create_app
from mtb.http.hotpaths import HotPaths
from mtb.identity.models import StaffRole
from mtb.qualifications.keys import create_hospital_key
from mtb.settings import Settings
from tests.factories import SHENNONGJIA, Seed
from tests.review.helpers import submitted

COMPARED_HEADERS = ("content-type", "www-authenticate", "content-security-policy", "x-content-type-options",
                    "referrer-policy", "x-frame-options", "retry-after", "deprecation", "cache-control")


@pytest.fixture
async def plain_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The same database through an app without the hot-path layer."""
    app = create_app(settings.model_copy(update={"hot_paths": False}))
    assert not any(m.cls is HotPaths for m in app.user_middleware)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                   base_url="http://mtb.test") as client:
        yield client
    await app.state.engine.dispose()


def _seen(response: httpx.Response) -> tuple[int, Any, dict[str, str | None]]:
    try:
        content: Any = response.json()
    except ValueError:
        content = response.text
    return response.status_code, content, {h: response.headers.get(h) for h in COMPARED_HEADERS}


async def test_same_answers_with_and_without_the_layer(client: httpx.AsyncClient, plain_client: httpx.AsyncClient,
                                                       seed: Seed) -> None:
    await seed.catalogs()
    zhao = await seed.person("zhao")
    li = await seed.person("li")
    app_id, zh = await submitted(client, seed, zhao, hubei=True)
    lh = await seed.login(li)
    reviewer = await seed.staff_login(await seed.staff("snj_reviewer", StaffRole.reviewer, SHENNONGJIA))
    clerk = await seed.staff_login(await seed.staff("snj_window", StaffRole.window, SHENNONGJIA))
    async with seed.sessionmaker() as s, s.begin():
        _row, key = await create_hospital_key(s, "SNJ-EX-0001")
    nobody = "00000000-0000-0000-0000-000000000000"
    requests: list[tuple[str, dict[str, str]]] = [
        # the applicant's status and full read
        (f"/api/v1/applications/{app_id}/status", zh),
        (f"/api/v1/applications/{app_id}", zh),
        (f"/api/v1/applications/{app_id}/status", lh),  # someone else's: 404
        (f"/api/v1/applications/{nobody}", zh),
        (f"/api/v1/applications/{app_id}/status", reviewer),  # staff: 403
        (f"/api/v1/applications/{app_id}/status", {}),  # no token: 401
        (f"/api/v1/applications/{app_id}", {"Authorization": "Bearer nonsense"}),
        ("/api/v1/applications/not-a-uuid/status", zh),  # 422
        ("/api/v1/applications/not-a-uuid", zh),
        # eligibility
        (f"/api/v1/eligibility?id_number={zhao.id_number}&disease_code=x", {"X-Api-Key": key}),
        (f"/api/v1/eligibility?id_number={zhao.id_number}", {"X-Api-Key": key}),  # missing disease: 422
        (f"/api/v1/eligibility?id_number={zhao.id_number}&disease_code=x", {}),  # no key: 401
        (f"/api/v1/eligibility?id_number={zhao.id_number}&disease_code=x", {"X-Api-Key": "wrong"}),
        ("/api/v1/eligibility?id_number=123&disease_code=x&on=not-a-date", {"X-Api-Key": key}),
        # the review queue
        ("/api/v1/review/queue", reviewer),
        ("/api/v1/review/queue?limit=1", reviewer),
        ("/api/v1/review/queue?limit=0", reviewer),  # 422
        ("/api/v1/review/queue?cursor=garbage", reviewer),
        ("/api/v1/review/queue", clerk),  # a window clerk: 403
        ("/api/v1/review/queue", zh),  # a person: 403
        ("/api/v1/review/queue", {}),
    ]
    statuses = set()
    for path, headers in requests:
        hot, plain = await client.get(path, headers=headers), await plain_client.get(path, headers=headers)
        assert _seen(hot) == _seen(plain), path
        statuses.add(hot.status_code)
    assert statuses >= {200, 401, 403, 404, 422}
    # Other methods on the same paths are FastAPI's (405), with or without the layer.
    for path in (f"/api/v1/applications/{app_id}/status", "/api/v1/review/queue"):
        hot, plain = await client.delete(path, headers=zh), await plain_client.delete(path, headers=zh)
        assert _seen(hot) == _seen(plain) and hot.status_code == 405
