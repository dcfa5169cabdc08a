"""Content-addressed storage of material files (local directory).

A file is written under a temporary name, synced, and renamed to its sha256; the caller commits the
row only after that, so an acknowledged upload is on disk. Files are laid out `ab/cd/abcd…`.

Requests never delete files: one file may serve several materials, and a request cannot know whether
another one, not yet committed, is about to use it. `mtb jobs run` removes files no material refers to
once they have been untouched for a grace period (each upload of the same content touches the file),
and temporary files a crash left behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import UploadFile

from mtb.errors import PayloadTooLarge

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Received:
    """An upload spooled to a private temporary file, with its hash and size."""

    path: Path
    sha256: str
    size: int


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def receive(self, upload: UploadFile, *, limit: int) -> Received:
        """Copy the upload to a temporary file, hashing it; refuse it past `limit` bytes."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in _chunks(upload):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge("file_too_large",
                                              f"文件过大（每个文件最大 {limit // (1024 * 1024)} MB）")
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            os.unlink(name)
            raise
        return Received(Path(name), digest.hexdigest(), size)

    def put(self, received: Received) -> bool:
        """Move a received file to its content address. Returns False if that content was already there."""
        dest = self.path_for(received.sha256)
        if dest.exists():
            os.utime(dest)  # in use again: restart its grace period
            received.path.unlink(missing_ok=True)
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        with received.path.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(received.path, dest)
        _fsync_dir(dest.parent)
        return True

    def stored(self) -> Iterator[tuple[str, float]]:
        """Every stored file's sha256 and modification time."""
        for path in self.root.glob("??/??/*"):
            if path.is_file() and len(path.name) == 64:
                yield path.name, path.stat().st_mtime

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def remove_stale_temporaries(self, older_than: float) -> int:
        removed = 0
        for path in self.tmp.glob("up-*") if self.tmp.exists() else []:
            if path.stat().st_mtime < older_than:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
