"""Result and log uploads to presigned URLs on a real (moto) S3 endpoint over HTTP."""

from __future__ import annotations

import gzip
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from berth.scheduler.v1 import job_pb2

from berth_common.backoff import Backoff
from berth_common.times import to_timestamp
from executor_agent.upload import Targets, Uploader, UploadError

GZIP = "application/gzip"


class Bucket:
    def __init__(self, endpoint: str) -> None:
        self.s3: Any = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        self.name = f"agent-upload-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=self.name)

    def target(self, key: str, expires_in: int = 600, bucket: str | None = None) -> Any:
        url = self.s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket or self.name, "Key": key, "ContentType": GZIP},
            ExpiresIn=expires_in,
        )
        return job_pb2.UploadTarget(
            url=url,
            expires_at=to_timestamp(time.time() + expires_in),
            headers={"Content-Type": GZIP},
            method="PUT",
        )

    def get(self, key: str) -> tuple[bytes, str]:
        response = self.s3.get_object(Bucket=self.name, Key=key)
        return response["Body"].read(), response["ContentType"]


@pytest.fixture
def bucket(moto_endpoint: str) -> Iterator[Bucket]:
    yield Bucket(moto_endpoint)


def uploader(targets: Targets, refresh: Any = None, attempts: int = 3) -> Uploader:
    async def no_refresh() -> Targets:
        raise AssertionError("unexpected RefreshUploadUrl")

    return Uploader(
        "job-1", targets, refresh or no_refresh, attempts=attempts, backoff=Backoff(initial_s=0)
    )


async def test_result_and_log_land_gzipped_with_the_signed_content_type(bucket: Bucket) -> None:
    up = uploader((bucket.target("j/result"), bucket.target("j/log")))
    stored = await up.put("result", b'{"counts": {"00": 5}}')
    await up.put("log", b"line 1\nline 2\n")
    body, content_type = bucket.get("j/result")
    assert gzip.decompress(body) == b'{"counts": {"00": 5}}'
    assert stored == len(body)
    assert content_type == GZIP
    assert gzip.decompress(bucket.get("j/log")[0]) == b"line 1\nline 2\n"


async def test_an_expired_url_is_refreshed_through_the_scheduler(
    bucket: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    refreshes: list[str] = []

    async def refresh() -> Targets:
        refreshes.append("called")
        return bucket.target("j/result"), bucket.target("j/log")

    expired = bucket.target("j/result")
    expired.expires_at.CopyFrom(to_timestamp(time.time() - 1))
    with caplog.at_level(logging.INFO):
        await uploader((expired, bucket.target("j/log")), refresh).put("result", b"r")
    assert refreshes == ["called"]
    assert gzip.decompress(bucket.get("j/result")[0]) == b"r"
    assert "job job-1 upload_url_refreshed reason=upload URL expired" in caplog.text


async def test_http_errors_are_retried_then_reported_with_their_reason(bucket: Bucket) -> None:
    missing = bucket.target("j/result", bucket=f"no-such-bucket-{uuid.uuid4().hex[:8]}")
    with pytest.raises(UploadError) as caught:
        await uploader((missing, missing), attempts=3).put("result", b"r")
    assert "result upload failed after 3 attempts: HTTP 404" in str(caught.value)
    assert "NoSuchBucket" in str(caught.value)


async def test_an_unreachable_storage_endpoint_is_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    target = job_pb2.UploadTarget(url=f"http://127.0.0.1:{port}/b/k", headers={})
    with pytest.raises(UploadError, match="log upload failed after 2 attempts: ConnectionError"):
        await uploader((target, target), attempts=2).put("log", b"x")


async def test_a_failing_refresh_counts_as_a_failed_attempt(bucket: Bucket) -> None:
    async def refresh() -> Targets:
        raise RuntimeError("scheduler away")

    no_url = job_pb2.UploadTarget()
    with pytest.raises(UploadError, match="RefreshUploadUrl failed: RuntimeError: scheduler away"):
        await uploader((no_url, no_url), refresh, attempts=2).put("result", b"r")
