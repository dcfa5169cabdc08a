"""Which storage serves the material files: the local directory (storage.py) or an S3 bucket (s3.py), as a
URL or the settings name it."""

from __future__ import annotations

from pathlib import Path

from mtb.materials.location import parse_storage_url
from mtb.materials.storage import LocalStorage, Storage
from mtb.settings import Settings


def storage_at(url: str, settings: Settings) -> Storage:
    """The storage a URL names; S3 uses the settings' endpoint and credentials and spools locally."""
    location = parse_storage_url(url)
    if isinstance(location, Path):
        return LocalStorage(location)
    from mtb.materials.s3 import S3Storage  # boto3 is imported only where a bucket is used

    return S3Storage.from_settings(location, settings)


def make_storage(settings: Settings) -> Storage:
    """The configured storage: MTB_STORAGE_URL, else the local directory MTB_STORAGE_PATH."""
    if settings.storage_url:
        return storage_at(settings.storage_url, settings)
    return LocalStorage(settings.storage_path)
