"""The blob store the scheduler runs with, chosen in one place."""

from __future__ import annotations

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.blob_store.blob_store import BlobStore
from scheduler.blob_store.s3_blob_store import S3BlobStore


def make_blob_store(settings: AwsSettings, bucket: str) -> BlobStore:
    return S3BlobStore(make_client("s3", settings), bucket)
