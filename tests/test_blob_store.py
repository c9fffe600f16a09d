"""Every MUST of the BlobStore contract (scheduler/blob_store/blob_store.py), per implementation.

The S3 store runs against a moto server over real HTTP: uploads and downloads
go through `requests`, as an agent or a client would, with exactly the headers
the store hands out. The in-memory store takes them through itself (see its
docstring). What only S3 does is in test_s3_blob_store.py.
"""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.blob_store.blob_store import BlobStore, lifecycle_tags
from scheduler.blob_store.memory_blob_store import Kind, MemoryBlobStore, Refused
from scheduler.blob_store.s3_blob_store import S3BlobStore, input_key, log_key, result_key
from scheduler.domain.errors import NotFound
from scheduler.domain.jobs import Role, UploadTarget
from tests.token_database_helpers import ManualClock

TAGS = lifecycle_tags(Role.GUEST, save_job=False)


@dataclass
class BlobWorld:
    """A store and what the rest of the world does with its URLs."""

    name: str
    store: BlobStore
    put: Callable[[str, bytes, dict[str, str]], bool]  # an upload: was it accepted?
    get: Callable[[str], bytes]  # a download
    tags: Callable[[Kind, str, int], dict[str, str]]  # of an object: kind, job, attempt
    paged: Callable[[int], BlobStore]  # the same objects, listed `n` per round trip

    def upload(self, target: UploadTarget, data: bytes) -> bool:
        return self.put(target.url, data, target.headers)


def memory_world() -> BlobWorld:
    store = MemoryBlobStore()

    def put(url: str, data: bytes, headers: dict[str, str]) -> bool:
        try:
            store.upload(url, data, headers)
        except Refused:
            return False
        return True

    return BlobWorld("memory", store, put, store.download, store.tags, lambda _: store)


def s3_world(endpoint: str) -> BlobWorld:
    settings = AwsSettings(region="eu-west-1", endpoint=endpoint)
    s3 = make_client("s3", settings)
    bucket = f"berth-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    def put(url: str, data: bytes, headers: dict[str, str]) -> bool:
        response = requests.put(url, data=data, headers=headers, timeout=10)
        assert response.status_code in (200, 403), response.text
        return response.ok

    def get(url: str) -> bytes:
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, response.text
        return response.content

    def tags(kind: Kind, job_id: str, attempt: int) -> dict[str, str]:
        key = {"input": input_key(job_id), "result": result_key(job_id, attempt)}.get(
            kind, log_key(job_id, attempt)
        )
        tag_set = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def paged(page_size: int) -> BlobStore:
        return S3BlobStore(s3, bucket, list_page_size=page_size)

    return BlobWorld("s3", S3BlobStore(s3, bucket), put, get, tags, paged)


@pytest.fixture(params=["memory", "s3"])
def world(request: pytest.FixtureRequest) -> Iterator[BlobWorld]:
    if request.param == "s3":
        yield s3_world(request.getfixturevalue("moto_endpoint"))
    else:
        yield memory_world()


def test_an_input_is_stored_tagged_and_read_back(world: BlobWorld) -> None:
    payload = bytes(range(256)) * 40
    tags = {"role": "guest", "save_job": "false", "note": "v1.2 = x/y+z@w"}
    world.store.put_input("job-1", payload, tags)
    assert world.store.get_input("job-1") == payload
    assert world.tags("input", "job-1", 0) == tags


def test_a_missing_input_is_not_found_and_deleting_it_is_harmless(world: BlobWorld) -> None:
    blobs = world.store
    with pytest.raises(NotFound, match="job-x"):
        blobs.get_input("job-x")
    blobs.delete_input("job-x")
    blobs.put_input("job-x", b"p", {})
    blobs.delete_input("job-x")
    with pytest.raises(NotFound):
        blobs.get_input("job-x")


def test_a_result_uploaded_to_the_presigned_target_can_be_downloaded(world: BlobWorld) -> None:
    blobs = world.store
    result = gzip.compress(b'{"counts": {"00": 512, "11": 488}}')
    assert not blobs.result_exists("job-2", 1)
    before = time.time()
    target = blobs.result_upload_target("job-2", 1, 300, TAGS)
    assert target.method == "PUT"
    assert before + 300 <= target.expires_at <= time.time() + 300

    assert world.upload(target, result)
    assert blobs.result_exists("job-2", 1)
    assert not blobs.log_exists("job-2", 1)
    assert world.tags("result", "job-2", 1) == TAGS  # for the bucket's lifecycle rules

    link = blobs.result_download_link("job-2", 1, 300)
    assert before + 300 <= link.expires_at <= time.time() + 300
    assert world.get(link.url) == result


def test_a_log_goes_to_its_own_object(world: BlobWorld) -> None:
    blobs = world.store
    log = gzip.compress(b"step 1\nstep 2\n")
    assert world.upload(blobs.log_upload_target("job-3", 1, 60, TAGS), log)
    assert blobs.log_exists("job-3", 1)
    assert world.tags("log", "job-3", 1) == TAGS
    assert not blobs.result_exists("job-3", 1)
    assert world.get(blobs.log_download_link("job-3", 1, 60).url) == log


def test_an_upload_without_exactly_the_targets_headers_is_refused(world: BlobWorld) -> None:
    target = world.store.result_upload_target("job-5", 1, 60, TAGS)
    accepted = world.put(target.url, b"not gzip", {"Content-Type": "text/plain"})
    if accepted and world.name == "s3":
        pytest.skip("this moto version does not verify presigned signatures; AWS answers 403")
    assert not accepted
    assert not world.store.result_exists("job-5", 1)


def test_inputs_written_before_a_time_are_listed_with_their_time_and_nothing_else(
    world: BlobWorld,
) -> None:
    blobs = world.store
    before = time.time()
    for n in range(5):
        blobs.put_input(f"job-{n}", b"p", {})
    assert world.upload(blobs.result_upload_target("job-0", 1, 60, {}), b"r")
    listed = list(world.paged(2).list_inputs(time.time() + 2))
    assert sorted(stored.job_id for stored in listed) == [f"job-{n}" for n in range(5)]
    # S3 keeps whole seconds: a write is stamped at most a second before it happened.
    assert all(before - 1 <= stored.written_at <= time.time() for stored in listed)
    assert list(blobs.list_inputs(before - 2)) == []


def test_each_attempt_has_its_own_objects_and_job_level_ones_stay_readable(
    world: BlobWorld,
) -> None:
    """A lost attempt's agent uploads only to its own attempt's objects; attempt 0 names the
    job-level objects of jobs run before attempts had their own."""
    blobs = world.store
    for attempt, data in ((0, b"old"), (1, b"lost"), (2, b"served")):
        assert world.upload(blobs.result_upload_target("job-9", attempt, 60, TAGS), data)
        assert world.upload(blobs.log_upload_target("job-9", attempt, 60, TAGS), data + b" log")
    for attempt, data in ((0, b"old"), (1, b"lost"), (2, b"served")):
        assert world.get(blobs.result_download_link("job-9", attempt, 60).url) == data
        assert world.get(blobs.log_download_link("job-9", attempt, 60).url) == data + b" log"
    assert not blobs.result_exists("job-9", 3)


def test_an_attempts_objects_are_listed_and_deleted_without_touching_others(
    world: BlobWorld,
) -> None:
    blobs = world.store
    before = time.time()
    blobs.put_input("job-a", b"p", {})
    for attempt in (0, 1, 2):
        assert world.upload(blobs.result_upload_target("job-a", attempt, 60, {}), b"r")
    assert world.upload(blobs.log_upload_target("job-a", 1, 60, {}), b"l")
    listed = list(world.paged(2).list_attempts(time.time() + 2))
    assert sorted((s.job_id, s.attempt) for s in listed) == [
        ("job-a", 1),
        ("job-a", 1),
        ("job-a", 2),
    ]
    assert all(before - 1 <= stored.written_at <= time.time() for stored in listed)
    assert list(blobs.list_attempts(before - 2)) == []
    blobs.delete_attempt("job-a", 1)
    blobs.delete_attempt("job-a", 1)  # idempotent
    assert not blobs.result_exists("job-a", 1) and not blobs.log_exists("job-a", 1)
    assert blobs.result_exists("job-a", 0) and blobs.result_exists("job-a", 2)
    assert blobs.get_input("job-a") == b"p"
    assert [s.attempt for s in blobs.list_attempts(time.time() + 2)] == [2]


def test_memory_store_refuses_expired_and_unknown_urls() -> None:
    """S3 refuses them too; only here can time be moved on command."""
    clock = ManualClock()
    blobs = MemoryBlobStore(clock=clock)
    target = blobs.result_upload_target("job-7", 1, 60, TAGS)
    with pytest.raises(Refused):
        blobs.upload(target.url.replace("job-7", "job-8"), b"r", target.headers)
    blobs.upload(target.url, b"r", target.headers)
    link = blobs.result_download_link("job-7", 1, 60)
    clock.advance(61)
    with pytest.raises(Refused):
        blobs.upload(target.url, b"again", target.headers)
    with pytest.raises(Refused):
        blobs.download(link.url)
    assert blobs.download(blobs.result_download_link("job-7", 1, 60).url) == b"r"
