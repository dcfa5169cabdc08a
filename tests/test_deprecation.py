"""A deprecated v1 route (docs/api.md): marked in the OpenAPI document, answered with Deprecation, Sunset
and Link headers whatever it returns (a model, a Response, an error), and given six months at least."""

from __future__ import annotations

import calendar
from datetime import date
from email.utils import parsedate_to_datetime

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from mtb.deprecation import EXTENSION, deprecated
from mtb.errors import NotFound


def _install(app: FastAPI) -> None:
    @app.get("/api/v1/old-thing", **deprecated("2027-01-04", "2027-07-05", successor="/api/v1/new-thing"))
    async def old_thing(fail: bool = False) -> dict[str, str]:
        if fail:
            raise NotFound("thing_not_found", "不存在")
        return {"thing": "old"}

    @app.get("/api/v1/old-response", **deprecated("2027-02-01", "2028-02-01"))
    async def old_response() -> JSONResponse:
        return JSONResponse({"thing": "old"})


@pytest.mark.parametrize("path", ["/api/v1/old-thing", "/api/v1/old-thing?fail=true", "/api/v1/old-response"])
async def test_deprecated_route_says_so_in_every_answer(app_and_client: tuple[FastAPI, httpx.AsyncClient],
                                                        path: str) -> None:
    app, client = app_and_client
    _install(app)
    app.openapi_schema = None
    response = await client.get(path)
    since = "2027-02-01" if "response" in path else "2027-01-04"
    assert response.headers["deprecation"] == f"@{calendar.timegm(date.fromisoformat(since).timetuple())}"
    sunset = parsedate_to_datetime(response.headers["sunset"])
    assert sunset.date() > date.fromisoformat(since) and sunset.utcoffset() is not None
    assert 'rel="deprecation"' in response.headers["link"]
    assert ('</api/v1/new-thing>; rel="successor-version"' in response.headers["link"]) == ("thing" in path)
    operation = app.openapi()["paths"][path.split("?")[0]]["get"]
    assert operation["deprecated"] is True and operation[EXTENSION]["since"] == since


async def test_other_routes_carry_no_deprecation(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/health", "/api/v1/regions", "/api/v1/fhir/metadata", "/api/v1/nothing"):
        response = await client.get(path)
        assert "deprecation" not in response.headers and "sunset" not in response.headers


async def test_every_deprecated_route_has_its_dates(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """Today's contract: any operation marked deprecated names the day and the sunset (none yet)."""
    app, _client = app_and_client
    for item in app.openapi()["paths"].values():
        for operation in item.values():
            if operation.get("deprecated"):
                info = operation[EXTENSION]
                assert date.fromisoformat(info["sunset"]) > date.fromisoformat(info["since"])


@pytest.mark.parametrize(("since", "sunset"), [("2027-01-04", "2027-03-01"), ("2027-01-04", "2026-12-01")])
def test_less_than_six_months_is_refused(since: str, sunset: str) -> None:
    with pytest.raises(ValueError, match="six months"):
        deprecated(since, sunset)
