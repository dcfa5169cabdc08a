"""An app built with settings changed for one test (limits, sampling rate, ...)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from mtb.app import create_app
from mtb.settings import get_settings
from tests.factories import Seed


@asynccontextmanager
async def app_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> AsyncIterator[Seed]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mtb.test") as client:
        yield Seed(app.state.sessionmaker, client)
    await app.state.engine.dispose()
