"""The S3 blob store over real HTTP (moto server): inputs, presigned uploads and downloads.

Uploads and downloads go through `requests`, as an agent or a client would,
with exactly the headers the store hands out.
"""

from __future__ import annotations

import gzip
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.blob_store.blob_store import lifecycle_tags
from scheduler.blob_store.s3_blob_store import S3BlobStore
from scheduler.domain.errors import NotFound
from scheduler.domain.jobs import Role

TAGS = lifecycle_tags(Role.GUEST, save_job=False)
SIGNED_HEADERS = {"Content-Type": "application/gzip", "x-amz-tagging": "role=guest&save_job=false"}


@pytest.fixture
def settings(moto_endpoint: str) -> AwsSettings:
    return AwsSettings(region="eu-west-1", endpoint=moto_endpoint)


@pytest.fixture
def bucket() -> str:
    return f"berth-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def blobs(settings: AwsSettings, bucket: str) -> S3BlobStore:
    s3 = make_client("s3", settings)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return S3BlobStore(s3, bucket)


def test_an_input_is_stored_tagged_and_read_back(
    blobs: S3BlobStore, settings: AwsSettings, bucket: str
) -> None:
    payload = bytes(range(256)) * 40
    blobs.put_input(
        "job-1", payload, {"role": "guest", "save_job": "false", "note": "v1.2 = x/y+z@w"}
    )
    assert blobs.get_input("job-1") == payload
    s3 = make_client("s3", settings)
    tags = s3.get_object_tagging(Bucket=bucket, Key="jobs/job-1/input")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "role": "guest",
        "save_job": "false",
        "note": "v1.2 = x/y+z@w",
    }


def test_a_missing_input_is_not_found_and_deleting_it_is_harmless(blobs: S3BlobStore) -> None:
    with pytest.raises(NotFound, match="job-x"):
        blobs.get_input("job-x")
    blobs.delete_input("job-x")
    blobs.put_input("job-x", b"p", {})
    blobs.delete_input("job-x")
    with pytest.raises(NotFound):
        blobs.get_input("job-x")


def _tags(settings: AwsSettings, bucket: str, key: str) -> dict[str, str]:
    tag_set = make_client("s3", settings).get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def test_a_result_uploaded_to_the_presigned_target_can_be_downloaded(
    blobs: S3BlobStore, settings: AwsSettings, bucket: str
) -> None:
    result = gzip.compress(b'{"counts": {"00": 512, "11": 488}}')
    assert not blobs.result_exists("job-2")
    before = time.time()
    target = blobs.result_upload_target("job-2", 300, TAGS)
    assert target.method == "PUT"
    assert target.headers == SIGNED_HEADERS
    assert before + 300 <= target.expires_at <= time.time() + 300

    response = requests.put(target.url, data=result, headers=target.headers, timeout=10)
    assert response.status_code == 200, response.text
    assert blobs.result_exists("job-2")
    assert not blobs.log_exists("job-2")
    assert _tags(settings, bucket, "jobs/job-2/result") == TAGS  # for the bucket's lifecycle rules

    link = blobs.result_download_link("job-2", 300)
    assert before + 300 <= link.expires_at <= time.time() + 300
    download = requests.get(link.url, timeout=10)
    assert download.status_code == 200
    assert download.content == result
    assert download.headers["Content-Type"] == "application/gzip"


def test_a_log_goes_to_its_own_object(
    blobs: S3BlobStore, settings: AwsSettings, bucket: str
) -> None:
    log = gzip.compress(b"step 1\nstep 2\n")
    target = blobs.log_upload_target("job-3", 60, TAGS)
    assert target.headers == SIGNED_HEADERS
    assert requests.put(target.url, data=log, headers=target.headers, timeout=10).ok
    assert blobs.log_exists("job-3")
    assert _tags(settings, bucket, "jobs/job-3/log") == TAGS
    assert not blobs.result_exists("job-3")
    assert requests.get(blobs.log_download_link("job-3", 60).url, timeout=10).content == log


def test_the_upload_signature_covers_the_content_type_and_the_tags(blobs: S3BlobStore) -> None:
    targets = (
        blobs.result_upload_target("job-4", 60, TAGS),
        blobs.log_upload_target("job-4", 60, TAGS),
    )
    for target in targets:
        signed = parse_qs(urlsplit(target.url).query)["X-Amz-SignedHeaders"][0].split(";")
        assert {"content-type", "x-amz-tagging"} <= set(signed)


def test_an_upload_with_another_content_type_is_refused(blobs: S3BlobStore) -> None:
    target = blobs.result_upload_target("job-5", 60, TAGS)
    wrong = requests.put(
        target.url, data=b"not gzip", headers={"Content-Type": "text/plain"}, timeout=10
    )
    if wrong.status_code == 200:
        pytest.skip("this moto version does not verify presigned signatures; AWS answers 403")
    assert wrong.status_code == 403


def test_inputs_written_before_a_time_are_listed_with_their_time_and_nothing_else(
    settings: AwsSettings, bucket: str, blobs: S3BlobStore
) -> None:
    before = time.time()
    for n in range(5):
        blobs.put_input(f"job-{n}", b"p", {})
    target = blobs.result_upload_target("job-0", 60, {})
    assert requests.put(target.url, data=b"r", headers=target.headers, timeout=10).ok
    paged = S3BlobStore(make_client("s3", settings), bucket, list_page_size=2)
    listed = list(paged.list_inputs(time.time() + 2))
    assert sorted(stored.job_id for stored in listed) == [f"job-{n}" for n in range(5)]
    # S3 keeps whole seconds: a write is stamped at most a second before it happened.
    assert all(before - 1 <= stored.written_at <= time.time() for stored in listed)
    assert list(blobs.list_inputs(before - 2)) == []
