"""Reading a stored material file: sent streamed from storage in chunks, whatever the backend, so that
access control and the audit record stay in the app (a presigned URL would hand the bucket to the
browser); or copied to a local temporary file for code that needs a path.

A person's view of a material's content goes through `mtb.materials.viewing.open_material` (audited);
`open_file` here is for that function and for the machine's own reading (the pre-review's OCR)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import anyio
from fastapi.responses import StreamingResponse

from mtb.errors import NotFound
from mtb.materials.models import Material
from mtb.materials.storage import CHUNK, Opened, Readable, Storage, copy_to_spool


async def open_file(storage: Storage, material: Material) -> Opened:
    try:
        return await anyio.to_thread.run_sync(storage.open, material.sha256)
    except FileNotFoundError:
        raise NotFound("material_file_missing", "材料文件不存在，请联系医保经办机构") from None


def material_response(opened: Opened, material: Material, *,
                      disposition: Literal["attachment", "inline"]) -> StreamingResponse:
    """The opened file with its type, name and size; the browser must not guess another type (nosniff)."""
    name = quote(material.file_name)
    named = f"filename*=utf-8''{name}" if name != material.file_name else f'filename="{name}"'
    return StreamingResponse(_chunks(opened.stream), media_type=material.content_type, headers={
        "Content-Length": str(opened.size), "Content-Disposition": f"{disposition}; {named}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@asynccontextmanager
async def local_copy(storage: Storage, material: Material) -> AsyncIterator[Path]:
    """The file as a private temporary file in the upload spool, for code that wants a path (pdfium);
    removed afterwards."""
    async with spooled(storage, await open_file(storage, material)) as path:
        yield path


@asynccontextmanager
async def spooled(storage: Storage, opened: Opened) -> AsyncIterator[Path]:
    """An opened file copied to a private temporary file in the upload spool; removed afterwards."""
    received = await anyio.to_thread.run_sync(partial(copy_to_spool, opened, storage.tmp, prefix="up-copy-"))
    try:
        yield received.path
    finally:
        received.path.unlink(missing_ok=True)


async def _chunks(stream: Readable) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(stream.read, CHUNK):
            yield chunk
    finally:
        stream.close()
