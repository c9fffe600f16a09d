"""What only the S3 blob store does: SigV4 over the upload's headers, S3's own tag header."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.blob_store.blob_store import lifecycle_tags
from scheduler.blob_store.s3_blob_store import S3BlobStore
from scheduler.domain.jobs import Role

TAGS = lifecycle_tags(Role.GUEST, save_job=False)
SIGNED_HEADERS = {"Content-Type": "application/gzip", "x-amz-tagging": "role=guest&save_job=false"}


@pytest.fixture
def blobs(moto_endpoint: str) -> S3BlobStore:
    s3 = make_client("s3", AwsSettings(region="eu-west-1", endpoint=moto_endpoint))
    bucket = f"berth-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return S3BlobStore(s3, bucket)


def test_the_upload_signature_covers_the_content_type_and_the_tags(blobs: S3BlobStore) -> None:
    targets = (
        blobs.result_upload_target("job-4", 1, 60, TAGS),
        blobs.log_upload_target("job-4", 1, 60, TAGS),
    )
    for target in targets:
        assert target.headers == SIGNED_HEADERS
        signed = parse_qs(urlsplit(target.url).query)["X-Amz-SignedHeaders"][0].split(";")
        assert {"content-type", "x-amz-tagging"} <= set(signed)


def test_a_download_is_served_as_gzip(blobs: S3BlobStore) -> None:
    target = blobs.result_upload_target("job-6", 1, 60, TAGS)
    assert requests.put(target.url, data=b"r", headers=target.headers, timeout=10).ok
    download = requests.get(blobs.result_download_link("job-6", 1, 60).url, timeout=10)
    assert download.headers["Content-Type"] == "application/gzip"
