"""Storage for the tests. A real S3 API over HTTP: moto's server on a free local port, or the server that
MTB_TEST_S3_ENDPOINT names (CI starts one beside PostgreSQL). With MTB_TEST_STORAGE_URL=s3://bucket/prefix
every test's settings put the material files in that bucket, under a prefix of the test's own, so that
the whole suite runs on object storage. And helpers that look at either storage directly.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from mtb.materials.storage import Storage

# moto takes any credentials; a real server gets its own through the MTB_S3_ variables of the environment.
CREDENTIALS = {"MTB_S3_REGION": "us-east-1", "MTB_S3_ACCESS_KEY_ID": "testing",
               "MTB_S3_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    if endpoint := os.environ.get("MTB_TEST_S3_ENDPOINT"):
        yield endpoint
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_variables(endpoint: str) -> dict[str, str]:
    """MTB_S3_ variables for the test server (credentials the environment gives win)."""
    given = {k: os.environ[k] for k in CREDENTIALS if k in os.environ}
    return {"MTB_S3_ENDPOINT_URL": endpoint} | CREDENTIALS | given


def s3_client(endpoint: str) -> Any:
    variables = s3_variables(endpoint)
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=variables["MTB_S3_REGION"],
        aws_access_key_id=variables["MTB_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=variables["MTB_S3_SECRET_ACCESS_KEY"])


def ensure_bucket(endpoint: str, bucket: str) -> None:
    client = s3_client(endpoint)
    if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=bucket)


def empty_prefix(endpoint: str, bucket: str, prefix: str) -> None:
    """Delete a test's objects, so that a whole run does not pile up in the server's memory."""
    client = s3_client(endpoint)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        if keys := [{"Key": item["Key"]} for item in page.get("Contents", [])]:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def s3_prefix_for_test(request: pytest.FixtureRequest, endpoint: str, bucket: str, prefix: str) -> str:
    """A fresh `s3://bucket/prefix/…` for one test, in a bucket made if missing, emptied after the test."""
    ensure_bucket(endpoint, bucket)
    own = f"{prefix.strip('/')}/{uuid.uuid4().hex}/".lstrip("/")
    request.addfinalizer(lambda: empty_prefix(endpoint, bucket, own))
    return f"s3://{bucket}/{own}"


def storage_variables(request: pytest.FixtureRequest) -> dict[str, str]:
    """The MTB_ variables that put one test's files in MTB_TEST_STORAGE_URL's bucket (none when unset)."""
    url = os.environ.get("MTB_TEST_STORAGE_URL")
    if not url:
        return {}
    endpoint: str = request.getfixturevalue("s3_endpoint")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return {"MTB_STORAGE_URL": s3_prefix_for_test(request, endpoint, bucket, prefix)} | s3_variables(endpoint)


def write_raw(storage: Storage, sha256: str, content: bytes) -> None:
    """Put `content` at `sha256`'s address behind the storage's back (to plant an orphan or spoil a file)."""
    from mtb.materials.s3 import S3Storage
    from mtb.materials.storage import LocalStorage

    if isinstance(storage, S3Storage):
        storage.client.put_object(Bucket=storage.bucket, Key=storage.key(sha256), Body=content)
    else:
        assert isinstance(storage, LocalStorage)
        path = storage.path_for(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def stored_names(storage: Storage) -> list[str]:
    return sorted(f.sha256 for f in storage.stored())
