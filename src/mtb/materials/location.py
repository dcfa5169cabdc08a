"""Where material files live, as MTB_STORAGE_URL names it: a local directory or an S3 bucket and prefix.
Read by the settings' check, the backup and the storage factory (stores.py); imports nothing of MTB."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ending in "/"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_storage_url(url: str) -> Path | S3Location:
    """`s3://bucket/prefix` names a bucket; `file://path` or a plain path a local directory."""
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"{url}: no bucket named (expected s3://bucket/prefix)")
        prefix = prefix.strip("/")
        return S3Location(bucket, f"{prefix}/" if prefix else "")
    if "://" in url and not url.startswith("file://"):
        raise ValueError(f"{url}: storage must be s3://bucket/prefix, file://path or a path")
    path = url.removeprefix("file://")
    if not path:
        raise ValueError(f"{url}: no directory named")
    return Path(path)
