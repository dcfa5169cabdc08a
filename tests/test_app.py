"""Service core: one error format, no 500 for bad input, logs that never print a full ID number."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from mtb.app import create_app
from mtb.logs import JsonFormatter, mask_ids
from mtb.settings import Settings


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_unknown_route_uses_the_error_format(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "请求的内容不存在"}


async def test_malformed_json_is_422_with_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/real-name", content=b"{not json",
                                 headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    response = await client.post("/api/v1/auth/real-name", json={"name": "张三"})
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["fields"]}
    assert {"body.id_number", "body.card_number"} <= fields


async def test_wrong_method_is_405_in_the_error_format(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/regions")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_mask_ids_hides_birth_date_and_sequence() -> None:
    assert mask_ids("id=110105198001019010 ok") == "id=**************9010 ok"
    assert mask_ids("11010819750101902X") == "**************902X"
    # Longer digit runs (card numbers, timestamps) are not ID numbers and stay as they are.
    assert mask_ids("12345678901234567890") == "12345678901234567890"


def test_log_lines_are_json_and_masked_in_message_and_fields() -> None:
    record = logging.makeLogRecord({"name": "mtb.test", "levelname": "INFO", "levelno": 20,
                                    "msg": "login for %s", "args": ("110105198001019010",)})
    record.query = "id_number=11010819750101902X"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["event"] == "login for **************9010"
    assert entry["query"] == "id_number=**************902X"
    assert "198001019010" not in line and "19750101902X" not in line


def test_production_refuses_development_or_short_keys() -> None:
    with pytest.raises(RuntimeError, match="must be set"):
        create_app(Settings(env="production"))
    with pytest.raises(RuntimeError, match="at least 32"):
        create_app(Settings(env="production", secret_key="short", data_key="x" * 40))
    good = Settings(env="production", secret_key="s" * 40, data_key="d" * 40)
    assert good.production_problems() == []
