"""Webhook endpoints reach only public addresses (MTB issue 21, F7: SSRF). With MTB_WEBHOOK_ALLOW_PRIVATE
off (the default, and these tests' setting): a URL whose host is a non-public address in any spelling, a
local name, or a name resolving to any non-public address is refused at registration; delivery resolves
again, connects only to the address it checked (so DNS rebinding cannot pass) and never follows a redirect.

DNS is outside MTB: tests answer for names by replacing `mtb.webhooks.destination.resolve`. No network is
reachable here, so public destinations are shown accepted at registration, and their delivery through an
httpx transport that records each request (where it would connect, with which Host and TLS name); the
receivers on 127.0.0.1 show the same pinning over real sockets, with private addresses allowed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from mtb.errors import Unprocessable
from mtb.identity.models import StaffRole
from mtb.settings import Settings, get_settings
from mtb.webhooks import destination
from mtb.webhooks.delivery import deliver_due
from mtb.webhooks.destination import is_public, literal_address, parse_ipv4, vet
from mtb.webhooks.models import MessageStatus, WebhookAttempt, WebhookEndpoint, WebhookMessage
from mtb.webhooks.service import check_url
from tests.applications.helpers import BEIJING_SELF, create
from tests.channels.keys import private_key, public_pem
from tests.factories import Seed
from tests.webhooks.receiver import allowing_private_addresses, receiver
from tests.webhooks.test_webhooks import ALL, endpoint

# Loopback, private, link-local (cloud metadata), shared, multicast, reserved, documentation, unspecified
# and broadcast addresses, in the spellings a resolver accepts, and IPv6 forms that lead to them.
FORBIDDEN_URLS = [
    "http://127.0.0.1/", "http://127.0.0.1:8080/hooks", "https://127.0.0.1/", "http://127.1/", "http://127.0.1/",
    "http://127.255.255.254/", "http://2130706433/", "http://0x7f000001/", "http://0X7F000001/",
    "http://0x7f.0.0.1/", "http://0x7f.1/", "http://0177.0.0.1/", "http://0177.1/", "http://017700000001/",
    "http://127.000.000.001/", "http://127.0.0.1./", "http://0x7f000001./", "http://2130706433./",
    "http://0.0.0.0/", "http://0/", "http://0.0.0.0:9000/", "http://10.0.0.1/", "http://10.255.255.255/",
    "http://012.0.0.1/", "http://167772161/", "http://0xa000001/", "http://172.16.0.1/", "http://172.31.255.255/",
    "http://0xac.0x10.0.1/", "http://192.168.1.1/", "http://0xc0a80101/", "http://3232235777/",
    "http://0300.0250.1.1/", "http://169.254.169.254/latest/meta-data/", "http://2852039166/",
    "http://0xa9fea9fe/", "http://0251.0376.0251.0376/", "http://169.254.43518/", "http://100.64.0.1/",
    "http://100.127.255.254/", "http://224.0.0.1/", "http://239.255.255.250/", "http://240.0.0.1/",
    "http://255.255.255.255/", "http://4294967295/", "http://192.0.2.1/", "http://198.51.100.7/",
    "http://203.0.113.9/", "http://198.18.0.1/", "http://192.0.0.9/", "http://192.88.99.1/",
    "http://[::1]/", "http://[0:0:0:0:0:0:0:1]/", "http://[::]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://[::ffff:10.0.0.1]/", "http://[::ffff:169.254.169.254]/",
    "http://[0:0:0:0:0:ffff:c0a8:101]/", "http://[::127.0.0.1]/", "http://[::7f00:1]/", "http://[fc00::1]/",
    "http://[fd00::1]/", "http://[fd12:3456:789a::1]:8443/", "http://[fe80::1]/", "http://[fe80::1%25eth0]/",
    "http://[febf:ffff::1]/", "http://[fec0::1]/", "http://[ff02::1]/", "http://[ff0e::1]/",
    "http://[2001:db8::1]/", "http://[2002:7f00:1::]/", "http://[2002:a00:1::1]/", "http://[2002:a9fe:a9fe::]/",
    "http://[64:ff9b::7f00:1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[64:ff9b:1::808:808]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "http://[100::1]/",
    "http://localhost/", "http://LOCALHOST:8000/", "http://localhost./", "http://api.localhost/",
    "http://a.b.localhost./x", "http://8.8.8.8@127.0.0.1/", "gopher://127.0.0.1:25/", "ftp://10.0.0.1/",
]
# Hosts MTB does not read as an address nor as a DNS name: refused as malformed before any lookup.
MALFORMED_URLS = [
    "http://256.0.0.1/", "http://1.2.3.4.5/", "http://0x/", "http://0x100000000/", "http://4294967296/",
    "http://08.0.0.1/", "http://1.2.3.0x/", "http://%31%32%37.0.0.1/", "http://１２７.０.０.１/",
    "http://127.0.0.1%2f/", "http://ex ample.com/", "http://a..b/", "http://-a.example/", "http://[::1/",
    "http://user:pw@8.8.8.8/", "ftp://8.8.8.8/", "file:///etc/passwd", "gopher://8.8.8.8:25/", "http:///x", "//8.8.8.8/x", "http://" + "a" * 64 + ".example/",
    # IDNA labels that do not decode (once a 500: the host is decoded when read)
    "http://xn--localhost/", "http://xn--a/", "https://xn--/x", "http://xn--zz--.example/",
]
PUBLIC_URLS = [
    "https://8.8.8.8/hooks", "http://1.1.1.1:8080/x", "http://134744072/", "http://0x8080808/",
    "http://8.8.8.8./", "https://[2606:4700:4700::1111]/hooks", "http://[::ffff:8.8.8.8]/",
    "http://[2002:808:808::1]/", "http://[64:ff9b::808:808]/", "http://100.128.0.1/",
]

# The DNS these tests answer: name -> addresses.
ZONE: dict[str, list[str]] = {
    "internal.example": ["10.0.0.5"], "meta.example": ["169.254.169.254"], "loop.example": ["127.0.0.1"],
    "loop6.example": ["::1"], "mapped.example": ["::ffff:127.0.0.1"], "ula.example": ["fd12:3456::1"],
    "zero.example": ["0.0.0.0"], "shared.example": ["100.64.1.2"], "sixtofour.example": ["2002:c0a8:101::1"],
    "mixed.example": ["8.8.8.8", "192.168.0.1"], "mixed6.example": ["2606:4700:4700::1111", "fe80::1"],
    "public.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:c5b4"],
    "hooks.example": ["8.8.8.8"], "nothing.example": [],
}


def dns(zone: dict[str, list[str]] | Callable[[str], list[str]]) -> Callable[[str, int], Any]:
    """A resolver answering from `zone` (or a function of the name), counting the questions asked."""
    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        resolve.asked.append(host)  # type: ignore[attr-defined]
        name = host.removesuffix(".")
        answer = zone(name) if callable(zone) else zone.get(name, [])
        return [ipaddress.ip_address(a) for a in answer]

    resolve.asked = []  # type: ignore[attr-defined]
    return resolve


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, int], Any]:
    fake = dns(ZONE)
    monkeypatch.setattr(destination, "resolve", fake)
    return fake


def refusal(url: str, *, allow_private: bool = False) -> str | None:
    import asyncio

    try:
        asyncio.run(vet(url, allow_private=allow_private))
    except Unprocessable as exc:
        return exc.code
    return None


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_every_spelling_of_a_non_public_address_is_forbidden(url: str, zone: Any) -> None:
    assert refusal(url) == "webhook_url_forbidden"
    assert zone.asked == []  # an address (or a local name) needs no lookup
    if "localhost" not in url.lower():  # the setting lets addresses through (tests, demos): ...
        assert refusal(url, allow_private=True) == (None if sendable(url) else "invalid_webhook_url")


def sendable(url: str) -> bool:
    """... unless the URL is malformed apart from its address (httpx cannot send to `0177.0.0.1`)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return parsed.scheme in ("http", "https") and not parsed.userinfo


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_hosts_that_are_neither_address_nor_name_are_malformed(url: str, zone: Any) -> None:
    assert refusal(url) == refusal(url, allow_private=True) == "invalid_webhook_url"
    assert zone.asked == []


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_public_addresses_are_accepted(url: str, zone: Any) -> None:
    assert refusal(url) is None and zone.asked == []


@pytest.mark.parametrize(("host", "code"), [
    ("internal.example", "webhook_url_forbidden"), ("meta.example", "webhook_url_forbidden"),
    ("loop.example", "webhook_url_forbidden"), ("loop6.example", "webhook_url_forbidden"),
    ("mapped.example", "webhook_url_forbidden"), ("ula.example", "webhook_url_forbidden"),
    ("zero.example", "webhook_url_forbidden"), ("shared.example", "webhook_url_forbidden"),
    ("sixtofour.example", "webhook_url_forbidden"), ("mixed.example", "webhook_url_forbidden"),
    ("mixed6.example", "webhook_url_forbidden"), ("Internal.Example.", "webhook_url_forbidden"),
    ("nothing.example", "webhook_url_unresolvable"), ("unknown.example", "webhook_url_unresolvable"),
    ("public.example", None), ("hooks.example", None), ("HOOKS.example.", None),
])
def test_names_are_judged_by_every_address_they_resolve_to(host: str, code: str | None, zone: Any) -> None:
    for url in (f"https://{host}/hooks/mtb", f"http://{host}:8080/x?y=1"):
        assert refusal(url) == code
    assert zone.asked and all(h.lower().removesuffix(".") == host.lower().removesuffix(".") for h in zone.asked)


def octets(draw: st.DrawFn) -> tuple[int, str]:
    value = draw(st.integers(0, 2**32 - 1))
    count = draw(st.integers(1, 4))
    sizes = [1] * (count - 1) + [5 - count]  # the last part fills the remaining bytes
    parts, shift = [], 32
    for size in sizes:
        shift -= 8 * size
        part = (value >> shift) & ((1 << (8 * size)) - 1)
        base = draw(st.sampled_from(["dec", "oct", "hex", "HEX"]))
        parts.append(str(part) if base == "dec" else f"0{part:o}" if base == "oct"
                     else f"0x{part:x}" if base == "hex" else f"0X{part:X}")
    return value, ".".join(parts)


@given(st.composite(octets)())
def test_ipv4_spellings_are_read_as_the_resolver_reads_them(case: tuple[int, str]) -> None:
    value, text = case
    address = ipaddress.IPv4Address(value)
    assert parse_ipv4(text) == literal_address(text) == literal_address(text + ".") == address
    assert ipaddress.IPv4Address(socket.inet_aton(text)) == address  # this platform's resolver agrees
    url = f"http://{text}/hooks"
    if not is_public(address):
        assert refusal(url) == "webhook_url_forbidden"
    else:  # public: accepted, unless httpx could not send there (`1.0.0.00`), then malformed
        assert refusal(url) == (None if sendable(url) else "invalid_webhook_url")


def test_production_still_requires_https(settings: Settings, monkeypatch: pytest.MonkeyPatch, zone: Any) -> None:
    import asyncio

    monkeypatch.setenv("MTB_ENV", "production")
    for allow in ("false", "true"):
        monkeypatch.setenv("MTB_WEBHOOK_ALLOW_PRIVATE", allow)
        get_settings.cache_clear()
        for url, code in [("http://8.8.8.8/x", "webhook_url_insecure"), ("http://hooks.example/", "webhook_url_insecure"),
                          ("https://8.8.8.8/x", None), ("https://hooks.example/x", None),
                          ("https://10.0.0.1/x", None if allow == "true" else "webhook_url_forbidden")]:
            try:
                asyncio.run(check_url(url))
                got = None
            except Unprocessable as exc:
                got = exc.code
            assert got == code, (allow, url)
    get_settings.cache_clear()


def test_the_real_resolver_reads_numbers_as_parse_ipv4_does() -> None:
    import asyncio

    for text in ("127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "10.1"):
        assert asyncio.run(destination.resolve(text, 80)) == [parse_ipv4(text)]


# --- registration through the API ---------------------------------------------------------------------


async def channel_of(seed: Seed) -> tuple[dict[str, str], str]:
    admin = await seed.staff(f"admin-{uuid.uuid4().hex[:6]}", StaffRole.admin)
    headers = await seed.staff_login(admin)
    channel = await seed.client.post("/api/v1/admin/channels", headers=headers, json={
        "code": f"ch-{uuid.uuid4().hex[:6]}", "name": "渠道", "keys": public_pem(private_key("ec"))})
    assert channel.status_code == 201, channel.text
    return headers, channel.json()["id"]


async def test_the_api_refuses_them_all_and_writes_nothing(client: httpx.AsyncClient, seed: Seed,
                                                           zone: Any) -> None:
    headers, channel_id = await channel_of(seed)
    cases = ([(u, "webhook_url_forbidden") for u in FORBIDDEN_URLS]
             + [(u, "invalid_webhook_url") for u in MALFORMED_URLS]
             + [(f"https://{h}/hooks", "webhook_url_forbidden") for h in ("internal.example", "meta.example",
                                                                         "loop6.example", "mixed.example")]
             + [("https://nothing.example/hooks", "webhook_url_unresolvable")])
    for url, code in cases:
        response = await client.post(f"/api/v1/admin/channels/{channel_id}/webhooks", headers=headers,
                                     json={"url": url, "events": ALL})
        assert response.status_code == 422 and response.json()["error"] == code, (url, response.text)
        detail = response.json()["detail"]
        assert any("\u4e00" <= c <= "\u9fff" for c in detail), detail  # a sentence for a person, in Chinese
    async with seed.sessionmaker() as s:
        assert (await s.execute(select(func.count()).select_from(WebhookEndpoint))).scalar_one() == 0
    for url in ("https://8.8.8.8/hooks", "https://public.example/hooks"):
        response = await client.post(f"/api/v1/admin/channels/{channel_id}/webhooks", headers=headers,
                                     json={"url": url, "events": ALL})
        assert response.status_code == 201, response.text
    codes = (await client.get("/openapi.json")).json()["paths"]["/api/v1/admin/channels/{channel_id}/webhooks"]
    listed = codes["post"]["responses"]["422"]["x-mtb-error-codes"]
    assert {"webhook_url_forbidden", "webhook_url_unresolvable", "invalid_webhook_url"} <= set(listed)


# --- delivery -----------------------------------------------------------------------------------------


async def announce(seed: Seed) -> None:
    """One committed change that announces one event to every endpoint: a draft withdrawn."""
    await seed.catalogs()
    headers = await seed.login(await seed.person())
    draft = await create(seed.client, headers, **BEIJING_SELF)
    assert draft.status_code == 201, draft.text
    withdrawn = await seed.client.post(f"/api/v1/applications/{draft.json()['id']}/withdraw", headers=headers)
    assert withdrawn.status_code == 200, withdrawn.text


async def messages(seed: Seed) -> list[tuple[WebhookMessage, list[WebhookAttempt]]]:
    async with seed.sessionmaker() as s:
        found = list((await s.execute(select(WebhookMessage).order_by(WebhookMessage.created_at))).scalars())
        return [(m, list((await s.execute(select(WebhookAttempt).where(WebhookAttempt.message_id == m.id)
                                          .order_by(WebhookAttempt.id))).scalars())) for m in found]


class Recorder:
    """An httpx transport that records where each request would connect and answers what it is told."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer or (lambda request: httpx.Response(200))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self), follow_redirects=False)


async def test_delivery_connects_to_the_checked_address_with_the_name_as_host_and_tls_name(
        seed: Seed, settings: Settings, zone: Any) -> None:
    await endpoint(seed, "https://hooks.example:8443/hooks/mtb?channel=1")
    await endpoint(seed, "http://public.example/hooks")
    await endpoint(seed, "https://134744072/hooks")  # an address, in decimal
    await announce(seed)
    recorder = Recorder()
    async with recorder.client() as client:
        report = await deliver_due(seed.sessionmaker, settings, client=client)
    assert report.delivered == 3 and report.failed == 0
    sent = {r.headers["host"]: r for r in recorder.requests}
    assert set(sent) == {"hooks.example:8443", "public.example", "134744072"}
    named = sent["hooks.example:8443"]
    assert (named.url.scheme, named.url.host, named.url.port, named.url.raw_path) == (
        "https", "8.8.8.8", 8443, b"/hooks/mtb?channel=1")
    assert named.extensions["sni_hostname"] == "hooks.example"
    assert sent["public.example"].url.host == "93.184.215.14" and "sni_hostname" not in sent["public.example"].extensions
    assert sent["134744072"].url.host == "8.8.8.8" and "sni_hostname" not in sent["134744072"].extensions
    # Each name was resolved at registration and once more for the attempt; no name is left to resolve.
    assert sorted(zone.asked) == ["hooks.example", "hooks.example", "public.example", "public.example"]
    assert all(literal_address(r.url.host) is not None for r in recorder.requests)


async def test_the_next_checked_address_is_tried_only_when_the_connection_fails(
        seed: Seed, settings: Settings, zone: Any) -> None:
    await endpoint(seed, "http://public.example/hooks")
    await announce(seed)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "93.184.215.14":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(204)

    recorder = Recorder(answer)
    async with recorder.client() as client:
        assert (await deliver_due(seed.sessionmaker, settings, client=client)).delivered == 1
    assert [r.url.host for r in recorder.requests] == ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:c5b4"]


@pytest.mark.parametrize("later", [["127.0.0.1"], ["169.254.169.254"], ["10.0.0.1"], ["::1"],
                                   ["::ffff:127.0.0.1"], ["8.8.8.8", "192.168.1.10"], ["fd00::1"]])
async def test_dns_rebinding_is_refused_at_delivery_and_not_retried(
        seed: Seed, settings: Settings, monkeypatch: pytest.MonkeyPatch, later: list[str]) -> None:
    answers = {"rebind.example": [["8.8.8.8"]]}

    def rebinding(name: str) -> list[str]:
        return answers[name].pop(0) if answers[name] else later

    monkeypatch.setattr(destination, "resolve", dns(rebinding))
    hook = await endpoint(seed, "https://rebind.example/hooks")  # public when registered
    await announce(seed)
    recorder = Recorder()
    async with recorder.client() as client:
        report = await deliver_due(seed.sessionmaker, settings, client=client)
        assert recorder.requests == [] and report.delivered == 0 and report.failed == 1
        ((message, attempts),) = await messages(seed)
        assert message.status == MessageStatus.failed.value and message.attempts == 1  # given up at once
        assert attempts[0].status_code is None and attempts[0].error is not None
        assert attempts[0].error.startswith("webhook_url_forbidden: ") and "rebind.example" in attempts[0].error
        logged = (await seed.client.get("/api/v1/admin/webhook-messages", headers=hook["headers"])).json()
        assert logged[0]["status"] == "failed" and logged[0]["log"][0]["error"] == attempts[0].error
        # An administrator's redelivery checks again: still refused, still nothing sent.
        again = await seed.client.post(f"/api/v1/admin/webhook-messages/{message.id}/redeliver",
                                       headers=hook["headers"])
        assert again.status_code == 200
        assert (await deliver_due(seed.sessionmaker, settings, client=client)).failed == 1
    assert recorder.requests == []
    ((message, attempts),) = await messages(seed)
    assert message.status == MessageStatus.failed.value and len(attempts) == 2


async def test_a_name_that_stops_resolving_is_retried_like_an_endpoint_that_is_down(
        seed: Seed, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [["8.8.8.8"]]
    monkeypatch.setattr(destination, "resolve", dns(lambda name: answers.pop(0) if answers else []))
    await endpoint(seed, "https://gone.example/hooks")
    await announce(seed)
    recorder = Recorder()
    async with recorder.client() as client:
        assert (await deliver_due(seed.sessionmaker, settings, client=client)).failed == 1
    ((message, attempts),) = await messages(seed)
    assert message.status == MessageStatus.pending.value and message.attempts == 1  # to be tried again
    assert attempts[0].error is not None and attempts[0].error.startswith("webhook_url_unresolvable: ")
    assert recorder.requests == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_never_followed(seed: Seed, settings: Settings, zone: Any, status: int) -> None:
    await endpoint(seed, "https://hooks.example/hooks")
    await announce(seed)
    recorder = Recorder(lambda request: httpx.Response(status, headers={
        "location": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}))
    async with recorder.client() as client:
        assert (await deliver_due(seed.sessionmaker, settings, client=client)).failed == 1
    assert [r.url.host for r in recorder.requests] == ["8.8.8.8"]
    ((message, attempts),) = await messages(seed)
    assert (attempts[0].status_code, attempts[0].error) == (status, f"HTTP {status} (redirect not followed)")
    assert message.status == MessageStatus.pending.value


# --- the same over real sockets (receivers on 127.0.0.1: private addresses allowed) ---------------------


async def test_a_real_redirect_to_another_local_receiver_is_not_followed(
        seed: Seed, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    allowed = allowing_private_addresses(monkeypatch)
    with receiver() as first, receiver() as target:
        first.location = target.url
        first.statuses = [302]
        await endpoint(seed, first.url)
        await announce(seed)
        assert (await deliver_due(seed.sessionmaker, allowed)).failed == 1
    assert len(first.received) == 1 and target.received == []


async def test_a_name_is_delivered_to_its_checked_address_over_a_real_socket(
        seed: Seed, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    allowed = allowing_private_addresses(monkeypatch)
    resolver = dns({"hooks.example": ["127.0.0.1"]})
    monkeypatch.setattr(destination, "resolve", resolver)
    with receiver() as r:
        port = httpx.URL(r.url).port
        hook = await endpoint(seed, f"http://hooks.example:{port}/hooks/mtb")
        await announce(seed)
        assert (await deliver_due(seed.sessionmaker, allowed)).delivered == 1
    (received,) = r.received
    assert received.headers["host"] == f"hooks.example:{port}"
    assert received.verified(hook["secret"])["type"] == "application.withdrawn"
    assert resolver.asked == ["hooks.example", "hooks.example"]  # type: ignore[attr-defined]


def certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for `name`, and a client context trusting only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


@pytest.mark.parametrize("served", ["hooks.example", "other.example"])
async def test_tls_is_verified_against_the_name_while_connecting_to_the_address(
        seed: Seed, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, served: str) -> None:
    allowed = allowing_private_addresses(monkeypatch)
    monkeypatch.setattr(destination, "resolve", dns({"hooks.example": ["127.0.0.1"]}))
    server_tls, trust = certificate(tmp_path, served)
    with receiver(tls=server_tls) as r:
        await endpoint(seed, f"https://hooks.example:{httpx.URL(r.url).port}/hooks/mtb")
        await announce(seed)
        async with httpx.AsyncClient(verify=trust, follow_redirects=False) as client:
            report = await deliver_due(seed.sessionmaker, allowed, client=client)
    ((message, attempts),) = await messages(seed)
    if served == "hooks.example":  # the certificate names the URL's host: delivered, to 127.0.0.1
        assert report.delivered == 1 and len(r.received) == 1 and message.status == "delivered"
    else:  # a certificate for another name is refused although the address is the same
        assert report.failed == 1 and r.received == [] and message.status == "pending"
        assert attempts[0].error is not None and "CERTIFICATE_VERIFY_FAILED" in attempts[0].error


def test_the_forbidden_list_and_the_public_list_disagree_on_every_entry() -> None:
    """Sanity of the lists above, with the resolver out of the way: each address is judged alone."""
    for url in PUBLIC_URLS:
        host = httpx.URL(url).raw_host.decode()
        address = literal_address(host)
        assert address is not None and is_public(address), url
    for url in FORBIDDEN_URLS:
        address = literal_address(urlsplit(url).hostname or "")
        assert address is None or not is_public(address), url
