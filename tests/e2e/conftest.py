"""Browser tests: the real server (uvicorn in a subprocess) driven by Playwright in Debian's chromium.

Locally they skip with a message when no chromium is found; in CI (CI=true) a missing chromium fails.
Screenshots of every step are kept under var/e2e/<test>/ as test artefacts.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mtb.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("MTB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser(database_url: str) -> Iterator[object]:
    """One chromium per module. Playwright's sync API holds an event loop in this thread while it runs, so
    it starts after the migrations and stops before the other (async) tests run."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run should have installed Debian's chromium")
        pytest.skip("no chromium found (install Debian's chromium, or set MTB_CHROMIUM) — browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(log_dir: Path) -> Iterator[str]:
    """MTB served by uvicorn on a free port, with the MTB_ settings of the environment."""
    port = _free_port()
    env = {**os.environ, "MTB_ENV": "development", "MTB_SCHEDULER_ENABLED": "false", "MTB_LOG_LEVEL": "WARNING"}
    env.update({k: v for k, v in os.environ.items() if k.startswith("MTB_")})
    log = (log_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "mtb.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log"], env=env | {"MTB_ENV": "development"}, stdout=log, stderr=log,
        cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError((log_dir / "server.log").read_text())
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """MTB served by uvicorn on a free port, on the test database (emptied by `settings`)."""
    with serving(tmp_path) as url:
        yield url


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    folder = ROOT / "var" / "e2e" / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
