"""A channel's receiving endpoint for the tests: a real HTTP server on a free local port, in a thread,
that records every request and answers what the test tells it to (a status per request, or waits)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from mtb.settings import Settings, get_settings


def allowing_private_addresses(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings with MTB_WEBHOOK_ALLOW_PRIVATE on (also for a worker process it starts): a
    receiver here listens on 127.0.0.1, which MTB otherwise refuses (tests/webhooks/test_webhook_ssrf.py)."""
    monkeypatch.setenv("MTB_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    return get_settings()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)

    def verified(self, secret: str) -> Any:
        """The payload as the Standard Webhooks reference verifier reads it (raises if the signature fails)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    location: str | None = None  # sent with every answer when set (a redirect)
    hold: threading.Event = field(default_factory=threading.Event)  # cleared: requests wait until set
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.received if r.json()["type"] == event_type]


@contextmanager
def receiver(path: str = "/hooks/mtb", *, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """A receiver at http://127.0.0.1:<port><path> (https with a server TLS context)."""
    state = Receiver()
    state.hold.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:  # the sender died mid-request (the crash test): nothing was delivered
                self.close_connection = True
                return
            with state.lock:
                state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            state.arrived.set()
            state.hold.wait(timeout=30)
            status = state.answer()
            self.send_response(status)
            if state.location:
                self.send_header("location", state.location)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield state
    finally:
        state.hold.set()
        server.shutdown()
        server.server_close()
