"""Material files in an S3-compatible bucket (AWS S3, MinIO, Ceph, a cloud provider's object storage).

Keys are `prefix + ab/cd/sha256`, the local layout under a prefix. Choices:

- An upload is spooled and checked on local disk as with local storage, then streamed to the bucket by
  boto3's managed transfer (multipart past 8 MB): a file is never held whole in memory.
- A put of content already stored does not upload it again: HEAD finds it, and a copy of the object onto
  itself (metadata replaced, with the time of this use) renews its LastModified. The garbage collector
  reads LastModified from the listing for the grace period, so nothing needs a HEAD per object there. On
  a versioned bucket each renewal leaves a noncurrent version: let a lifecycle rule expire those.
- Deleting re-reads LastModified right before the delete, so an object put again since the collector
  listed it stays.
- Downloads stream the object's body in chunks through the app (materials/download.py), so access
  control and the audit record stay in the app; no presigned URL hands the bucket to a browser.
- Any failure of the store other than "no such key" is StorageUnavailable (503), logged with its cause.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mtb.materials.location import S3Location
from mtb.materials.storage import Opened, Received, Spool, StorageUnavailable, StoredFile

if TYPE_CHECKING:
    from mtb.settings import Settings

log = logging.getLogger("mtb.storage")
_TRANSFER = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024,
                           max_concurrency=4)
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_KEY = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")


class S3Storage(Spool):
    def __init__(self, location: S3Location, *, tmp: Path, client: Any) -> None:
        super().__init__(tmp)
        self.location = location
        self.bucket = location.bucket
        self.client = client  # a boto3 S3 client (thread-safe)

    @classmethod
    def from_settings(cls, location: S3Location, settings: Settings) -> S3Storage:
        """A client for the configured endpoint and credentials (unset ones: boto3's usual chain)."""
        secret = settings.s3_secret_access_key
        config = Config(connect_timeout=5, read_timeout=60, max_pool_connections=20,
                        retries={"mode": "standard", "max_attempts": 3},
                        # S3-compatible servers on their own host name want bucket names in the path.
                        s3={"addressing_style": "path"} if settings.s3_endpoint_url else None)
        client = boto3.session.Session().client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None, config=config)
        return cls(location, tmp=settings.storage_path / "tmp", client=client)

    def describe(self) -> str:
        return str(self.location)

    def key(self, sha256: str) -> str:
        return f"{self.location.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put(self, received: Received) -> bool:
        key = self.key(received.sha256)
        try:
            with _failures(self.location, "put"):
                if self._head(key) is not None and self._touch(key, received.sha256):
                    return False
                self.client.upload_file(str(received.path), self.bucket, key, Config=_TRANSFER,
                                        ExtraArgs={"Metadata": {"sha256": received.sha256}})
                return True
        finally:
            received.path.unlink(missing_ok=True)

    def open(self, sha256: str) -> Opened:
        key = self.key(sha256)
        with _failures(self.location, "open"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _missing(exc):
                    raise FileNotFoundError(f"{self.location}: no object {key}") from None
                raise
        return Opened(_Body(response["Body"], self.location), int(response["ContentLength"]))

    def stored(self) -> Iterator[StoredFile]:
        """Every stored object's sha256, LastModified and size (keys of another shape are not ours)."""
        prefix = self.location.prefix
        with _failures(self.location, "list"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    match = _KEY.fullmatch(item["Key"][len(prefix):])
                    if match and match[3][:2] == match[1] and match[3][2:4] == match[2]:
                        yield StoredFile(match[3], item["LastModified"].timestamp(), int(item["Size"]))

    def delete(self, sha256: str, *, untouched_since: float | None = None) -> bool:
        key = self.key(sha256)
        with _failures(self.location, "delete"):
            head = self._head(key)
            if head is None:
                return False
            if untouched_since is not None and head["LastModified"].timestamp() >= untouched_since:
                return False
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return True

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return head

    def _touch(self, key: str, sha256: str) -> bool:
        """Renew the object's LastModified; False if it is gone (deleted since the HEAD)."""
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                MetadataDirective="REPLACE",
                Metadata={"sha256": sha256, "used-at": datetime.now(UTC).isoformat(timespec="seconds")})
        except ClientError as exc:
            if _missing(exc):
                return False
            raise
        return True


class _Body:
    """An object's streaming body whose read errors (a connection cut midway) are StorageUnavailable."""

    def __init__(self, body: Any, location: S3Location) -> None:
        self._body = body
        self._location = location

    def read(self, size: int = -1, /) -> bytes:
        with _failures(self._location, "read"):
            data: bytes = self._body.read(None if size < 0 else size)
        return data

    def close(self) -> None:
        self._body.close()


@contextmanager
def _failures(location: S3Location, action: str) -> Iterator[None]:
    """The store's own failures become StorageUnavailable, logged with their cause."""
    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error) as exc:
        log.error("object storage failed",
                  extra={"action": action, "storage": str(location), "error": repr(exc)})
        raise StorageUnavailable() from exc


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING
