"""Content-addressed storage of material files: a local directory (here) or an S3 bucket (s3.py).

Both keep a file under its sha256, laid out `ab/cd/abcd…` (after a key prefix on S3). An upload is first
spooled to a private temporary file on local disk, where the content checks read it; `put` then moves it
to its content address (a synced rename on disk, an upload to the bucket), and the caller commits the row
only after that, so an acknowledged upload is stored.

Requests never delete files: one file may serve several materials, and a request cannot know whether
another one, not yet committed, is about to use it. `mtb jobs run` removes files no material refers to
once they have been untouched for a grace period (each upload of the same content touches the file),
and temporary files a crash left behind.

Every method but `receive` blocks (disk or network): async code calls them in a worker thread.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from fastapi import UploadFile

from mtb.errors import MTBError, PayloadTooLarge
from mtb.outage import DiskFull

CHUNK = 1024 * 1024
log = logging.getLogger("mtb.storage")


STORAGE_RETRY_SECONDS = 10


class StorageUnavailable(MTBError):
    """The storage failed (bucket unreachable, access denied, a disk error): the request may be tried again.
    A full disk is DiskFull (507 disk_full, outage.py)."""

    status_code = 503

    def __init__(self) -> None:
        super().__init__("storage_unavailable", "文件存储暂时不可用，请稍后再试",
                         headers={"Retry-After": str(STORAGE_RETRY_SECONDS)})


def _storage_failure(exc: OSError) -> MTBError:
    """A failed write or read of the local disk: DiskFull when out of space, else StorageUnavailable."""
    return DiskFull() if exc.errno in (errno.ENOSPC, errno.EDQUOT) else StorageUnavailable()


@dataclass(frozen=True)
class Received:
    """An upload spooled to a private temporary file, with its hash and size."""

    path: Path
    sha256: str
    size: int


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Opened:
    """A stored file open for reading (close its stream), and its size in bytes."""

    stream: Readable
    size: int


class StoredFile(NamedTuple):
    sha256: str
    modified: float  # POSIX time of the last put of this content: the grace period runs from it
    size: int


class Storage(Protocol):
    """Where material files live, addressed by their sha256."""

    tmp: Path  # the local spool of uploads being received

    def describe(self) -> str:
        """Where the files are, for operators' messages."""
        ...

    async def receive(self, upload: UploadFile, *, limit: int) -> Received: ...

    def put(self, received: Received) -> bool:
        """Store a received file under its sha256; False if that content was there already (then its grace
        period restarts). The received file is gone afterwards, whatever happened."""
        ...

    def open(self, sha256: str) -> Opened:
        """The stored file; FileNotFoundError if there is none."""
        ...

    def stored(self) -> Iterator[StoredFile]: ...

    def delete(self, sha256: str, *, untouched_since: float | None = None) -> bool:
        """Remove a stored file (with `untouched_since`, only if not put again since that time); True if it
        was removed."""
        ...

    def remove_stale_temporaries(self, older_than: float) -> int: ...


class Spool:
    """Receiving uploads into a local temporary directory, and clearing what a crash left there."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    async def receive(self, upload: UploadFile, *, limit: int) -> Received:
        """Copy the upload to a temporary file, hashing it; refuse it past `limit` bytes. A spool that cannot
        take it (disk full: 507 disk_full; another disk error: 503) keeps nothing of it."""
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.tmp, prefix="up-")
        except OSError as exc:
            log.error("spooling an upload failed", extra={"spool": str(self.tmp), "error": repr(exc)})
            raise _storage_failure(exc) from exc
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in _chunks(upload):
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge("file_too_large",
                                              too_large_detail(limit))
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as exc:  # written through `out` (the upload's own reads raise no OSError)
            os.unlink(name)
            log.error("spooling an upload failed", extra={"spool": str(self.tmp), "error": repr(exc)})
            raise _storage_failure(exc) from exc
        except BaseException:
            os.unlink(name)
            raise
        return Received(Path(name), digest.hexdigest(), size)

    def remove_stale_temporaries(self, older_than: float) -> int:
        removed = 0
        for path in self.tmp.glob("up-*") if self.tmp.exists() else []:
            try:
                if path.stat().st_mtime < older_than:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # an upload finished (or was removed) meanwhile
                continue
        return removed


class LocalStorage(Spool):
    def __init__(self, root: Path) -> None:
        super().__init__(root / "tmp")
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, received: Received) -> bool:
        dest = self.path_for(received.sha256)
        try:
            try:
                os.utime(dest)  # there already and in use again: restart its grace period
                return False
            except FileNotFoundError:
                pass
            dest.parent.mkdir(parents=True, exist_ok=True)
            with received.path.open("rb") as f:
                os.fsync(f.fileno())
            os.replace(received.path, dest)
            _fsync_dir(dest.parent)
            return True
        except OSError as exc:
            log.error("storing a file failed", extra={"storage": self.describe(), "error": repr(exc)})
            raise _storage_failure(exc) from exc
        finally:
            received.path.unlink(missing_ok=True)

    def open(self, sha256: str) -> Opened:
        path = self.path_for(sha256)
        try:
            f = path.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise FileNotFoundError(path) from None
        except OSError as exc:
            log.error("reading a file failed", extra={"storage": self.describe(), "error": repr(exc)})
            raise StorageUnavailable() from exc
        return Opened(f, os.fstat(f.fileno()).st_size)

    def stored(self) -> Iterator[StoredFile]:
        """Every stored file's sha256, modification time and size."""
        for path in self.root.glob("??/??/*"):
            if len(path.name) == 64:
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                if path.is_file():
                    yield StoredFile(path.name, stat.st_mtime, stat.st_size)

    def delete(self, sha256: str, *, untouched_since: float | None = None) -> bool:
        path = self.path_for(sha256)
        try:
            if untouched_since is not None and path.stat().st_mtime >= untouched_since:
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        return True


def copy_to_spool(opened: Opened, tmp: Path, *, prefix: str = "up-") -> Received:
    """Copy an opened stored file to a private temporary file under `tmp`, hashing it; the stream is closed.
    The name starts with `up-` so that a copy a crash leaves behind goes with the stale temporaries."""
    tmp.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp, prefix=prefix)
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := opened.stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    finally:
        opened.stream.close()
    return Received(Path(name), digest.hexdigest(), size)


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def too_large_detail(limit: int) -> str:
    """What a person is told about a file above the limit: the limit, and what to do."""
    return f"文件超过 {limit // (1024 * 1024)} MB，请重新拍摄或压缩后上传"
