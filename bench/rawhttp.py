"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the submission benchmark (f).

wrk cannot chain requests (the upload needs the id the create returned), and httpx spent more CPU per
flow than the server did (about 140 ms against 85 ms for create + 2 × 200 KB uploads + submit, on the
same two cores), so the load generator, not MTB, set the pace. Here each request is a few bytes of
headers written before a body encoded once (the multipart uploads are built once per run), and each
answer is read by its Content-Length (or chunks).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import urlsplit


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, base: str) -> Connection:
        u = urlsplit(base)
        reader, writer = await asyncio.open_connection(u.hostname, u.port or 80, limit=1 << 20)
        return cls(reader, writer, u.netloc)

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if body:
            self.writer.write(body)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked = 0, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length)
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        await self.reader.readuntil(b"\r\n")
        return status, b"".join(parts)

    async def json(self, method: str, path: str, headers: dict[str, str], payload: Any) -> tuple[int, Any]:
        status, body = await self.request(method, path, {**headers, "Content-Type": "application/json"},
                                          json.dumps(payload).encode())
        return status, json.loads(body) if body else None

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


def multipart(fields: dict[str, str], file_field: str, file_name: str, content_type: str,
              data: bytes) -> tuple[str, bytes]:
    """(Content-Type header, body) of a multipart/form-data request with text fields and one file."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                ).encode()
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()
    out += data
    out += f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)
