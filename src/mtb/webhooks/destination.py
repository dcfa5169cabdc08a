"""Where a webhook may go: only to public addresses, and only to the address that was checked (SSRF).

An administrator's endpoint URL makes MTB's worker send POST requests; without this rule it could be
pointed at MTB's own host, the private network or a cloud metadata service. So, at registration and again
before every delivery attempt:

1. The URL is read by httpx, the parser delivery uses, so the host checked is the host connected to.
2. A host that is an IP address in any spelling the resolver accepts (`127.1`, `2130706433`, `0x7f000001`,
   `0177.0.0.1`, `127.0.0.1.`, `[::ffff:127.0.0.1]`, …) is that address; `localhost` and `*.localhost`
   are refused by name; any other host must be a DNS name and is resolved (`getaddrinfo`, in a thread,
   within `RESOLVE_TIMEOUT_SECONDS`).
3. Every address must be public (`is_public`); one private answer among public ones refuses the URL.
4. Delivery connects to a checked address itself (`pinned_request`): the name is sent as the Host header
   and as the TLS server name (certificates are verified against it), and nothing is resolved again
   between the check and the connection, so a name that answers a public address now and a private one a
   moment later (DNS rebinding) cannot reach the private one. Redirects are never followed.

`MTB_WEBHOOK_ALLOW_PRIVATE` turns step 3 off (tests, and demo receivers on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

import httpx

from mtb.errors import Unprocessable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

FORBIDDEN = "webhook_url_forbidden"
RESOLVE_TIMEOUT_SECONDS = 5.0

# Ranges some Python versions' `is_global` still counts as global (their tables were corrected later):
# IETF protocol assignments, the 6to4 relay anycast, site-local IPv6, and local-use NAT64.
NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15", "fec0::/10", "64:ff9b:1::/48"))
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # 64:ff9b::a.b.c.d reaches a.b.c.d through a translator
LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


@dataclass(frozen=True)
class Destination:
    """A URL, its host (ASCII, as sent), whether that is a DNS name, and the checked addresses a delivery
    may connect to (in the resolver's order)."""

    url: httpx.URL
    host: str
    by_name: bool
    addresses: tuple[IPAddress, ...]


def is_public(address: IPAddress) -> bool:
    """Reachable on the public internet: not loopback, private, link-local, shared (CGNAT), multicast,
    reserved, documentation or unspecified. An IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4,
    NAT64) is judged by the IPv4 address it leads to as well."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in NAT64:  # what a DNS64 resolver answers for an IPv4-only name
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None and not is_public(address.sixtofour):
            return False
        if address.teredo is not None:
            return False
    return (address.is_global and not address.is_multicast and not address.is_reserved
            and not any(address in network for network in NOT_PUBLIC if network.version == address.version))


def _ipv4_part(text: str) -> int | None:
    if re.fullmatch(r"0x[0-9a-f]+", text):
        return int(text, 16)
    if re.fullmatch(r"0[0-7]+", text):
        return int(text, 8)
    if re.fullmatch(r"0|[1-9][0-9]*", text):
        return int(text)
    return None


def parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in the forms `inet_aton` accepts: one to four parts, each decimal, octal (leading 0)
    or hexadecimal (0x); the last part fills the remaining bytes (`127.1`, `2130706433`, `0x7f.0.0.1`)."""
    parts = [_ipv4_part(p) for p in text.lower().split(".")]
    if not 1 <= len(parts) <= 4 or any(p is None for p in parts):
        return None
    numbers = [p for p in parts if p is not None]
    *leading, last = numbers
    if any(p > 255 for p in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for i, p in enumerate(leading):
        value += p << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def literal_address(host: str) -> IPAddress | None:
    """The address a host names without any DNS lookup, whatever its spelling; None for a name."""
    bare = host.removesuffix(".")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    address = parse_ipv4(bare)
    if address is None:
        try:  # whatever else this platform's resolver reads as a number
            address = ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return address


def parse_url(url: str) -> httpx.URL:
    """The URL as delivery reads it; refused unless http(s) with a host that is an address or a DNS name."""
    try:
        parsed: httpx.URL | None = httpx.URL(url)
        assert parsed is not None
        parsed.host  # noqa: B018  (decodes an IDNA host: `xn--localhost` fails here, as UnicodeError)
    except (httpx.InvalidURL, ValueError, TypeError):  # UnicodeError is a ValueError
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host or parsed.userinfo:
        raise Unprocessable("invalid_webhook_url", "接收地址应为 http(s):// 开头的完整网址，且不含用户名密码")
    host = parsed.raw_host.decode("ascii")
    if literal_address(host) is None:
        labels = host.removesuffix(".").split(".")
        if not all(LABEL.match(label) for label in labels) or NUMERIC_LABEL.match(labels[-1]) or len(host) > 253:
            raise Unprocessable("invalid_webhook_url", f"接收地址的主机名“{host}”不是有效的域名或 IP 地址")
    return parsed


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses a DNS name has now (empty if it has none or the resolver does not answer in time).
    Tests replace this function: DNS is outside MTB."""
    try:
        infos = await asyncio.wait_for(asyncio.to_thread(
            socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP),
            timeout=RESOLVE_TIMEOUT_SECONDS)
    except (OSError, UnicodeError, TimeoutError):
        return []
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in found:
            found.append(address)
    return found


def _is_local_name(host: str) -> bool:
    name = host.removesuffix(".")
    return name == "localhost" or name.endswith(".localhost")


def _forbidden(host: str, address: IPAddress | None) -> NoReturn:
    where = f"（{address}）" if address is not None else ""
    raise Unprocessable("webhook_url_forbidden",
                        f"接收地址“{host}”指向内网、本机或保留地址{where}，不能作为推送地址；请使用公网地址")


def _address_as_written(url: str) -> IPAddress | None:
    """The address the URL's host spells, read as the standard library splits it (even a spelling httpx
    would not parse, such as `0177.0.0.1`: it is refused as what it names, not only as malformed)."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return literal_address(host) if host else None


async def vet(url: str, *, allow_private: bool) -> Destination:
    """The URL's destination, or a refusal: `webhook_url_forbidden` (a local name, or any address not
    public), `invalid_webhook_url` (malformed), `webhook_url_unresolvable` (a name without addresses now)."""
    written = _address_as_written(url)
    if written is not None and not allow_private and not is_public(written):
        _forbidden(urlsplit(url.strip()).hostname or "", written)
    parsed = parse_url(url)
    host = parsed.raw_host.decode("ascii")
    literal = literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        if _is_local_name(host) and not allow_private:
            _forbidden(host, None)
        addresses = await resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
        if not addresses:
            raise Unprocessable("webhook_url_unresolvable",
                                f"接收地址的域名“{host}”现在无法解析，请确认域名已生效后再登记")
    refused = [a for a in addresses if not is_public(a)]
    if refused and not allow_private:
        _forbidden(host, refused[0])
    return Destination(parsed, host, literal is None, tuple(addresses))


def pinned_request(client: httpx.AsyncClient, destination: Destination, address: IPAddress, *, content: bytes,
                   headers: dict[str, str]) -> httpx.Request:
    """A POST to `address` itself, carrying the URL's host as the Host header and, for https, as the TLS
    server name (SNI and certificate verification), so no second lookup can change where it goes."""
    url = destination.url
    extensions = {"sni_hostname": destination.host.removesuffix(".")} if destination.by_name and url.scheme == "https" else {}
    return client.build_request("POST", url.copy_with(host=str(address)), content=content,
                                headers={**headers, "host": url.netloc.decode("ascii")}, extensions=extensions)
