"""A crash loses no acknowledged job, runs none twice, and leaves nothing that ever runs.

A job is acknowledged only after its input is in S3 and its record in
DynamoDB (a small input lives in the record: one write). A crash between the
two leaves an input without a record: it never runs (jobs run from records)
and the orphan sweep deletes it. A crash after
both writes but before the answer leaves a job the client did not hear
about; retrying with the same idempotency key returns it, so a client that
retries ends with exactly one job per submission.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from berth.scheduler.v1 import job_pb2

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import provision
from scheduler.blob_store.s3_blob_store import S3BlobStore
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.orphan_sweep import OrphanSweep
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, eventually
from tests.job_records import new_job
from tests.replica_processes import Cluster, poll_until

HOUR = 3600.0


@pytest.fixture
def cluster(emulator: str, tmp_path: Path) -> Iterator[Cluster]:
    sweep = {"--orphan-input-age-seconds": "1", "--orphan-sweep-seconds": "0.3"}
    running = Cluster(emulator, tmp_path, sweep)
    yield running
    running.close()


@pytest.mark.parametrize(
    "submissions", [40, *(pytest.param(n, marks=pytest.mark.slow) for n in (100, 200))]
)
def test_kill_9_during_concurrent_submissions_loses_no_acknowledged_job_and_runs_none_twice(
    cluster: Cluster, submissions: int
) -> None:
    scheduler = cluster.start_scheduler()
    for _ in range(2):
        cluster.start_agent(scheduler)
    cluster.wait_agents_ready()  # jobs run during the burst, and some are running at the kill
    keys = [f"key-{n}" for n in range(submissions)]
    acknowledged: dict[str, str] = {}
    refused: dict[str, grpc.StatusCode] = {}
    lock = threading.Lock()

    with scheduler.user(cluster.tokens["admin"]) as user:

        def submit(key: str) -> None:
            try:
                job_id = user.submit(key.encode(), idempotency_key=key)
            except grpc.RpcError as error:
                assert isinstance(error, grpc.Call)
                with lock:
                    refused[key] = error.code()
                return
            with lock:
                acknowledged[key] = job_id
                if len(acknowledged) == submissions // 3:
                    scheduler.kill()  # mid-burst: a dozen calls are in flight

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(submit, keys))
    assert submissions // 3 <= len(acknowledged) < submissions
    assert len(acknowledged) + len(refused) == submissions
    assert set(refused.values()) <= {grpc.StatusCode.UNAVAILABLE}, refused

    # A submission that died between its two writes: an input with no record.
    _, blobs = cluster.stores()
    unacknowledged = str(uuid.uuid4())
    blobs.put_input(unacknowledged, b"never acknowledged", {})

    restarted = cluster.start_scheduler(ports=scheduler.ports)
    cluster.wait_completed(restarted, list(acknowledged.values()))
    poll_until(lambda: not cluster.inputs_without_records(), 30, "the orphan sweep")
    assert unacknowledged not in cluster.executions()

    # The client retries what it was refused, with the same keys: one job per key.
    with restarted.user(cluster.tokens["admin"]) as user, ThreadPoolExecutor(16) as pool:
        retry = list(refused)
        ids = pool.map(lambda key: user.submit(key.encode(), idempotency_key=key), retry)
        retried = dict(zip(retry, ids, strict=True))
    job_per_key = {**acknowledged, **retried}
    assert len(set(job_per_key.values())) == submissions
    cluster.wait_completed(restarted, list(job_per_key.values()))
    assert cluster.executions() == Counter(job_per_key.values())


# --- the orphan sweep, in-process -------------------------------------------------------


@pytest.fixture
def storage(moto_endpoint: str) -> tuple[DynamoDbJobStore, S3BlobStore]:
    settings = AwsSettings(region="eu-west-1", endpoint=moto_endpoint)
    suffix = uuid.uuid4().hex[:10]
    provision(
        settings,
        table=f"sweep-{suffix}",
        bucket=f"sweep-{suffix}",
        bucket_key_param=f"/{suffix}/bucket",
        table_key_param=f"/{suffix}/table",
        backend_status_param=f"/{suffix}/status",
        backend_status_toml="",
        token_table=f"sweep-tokens-{suffix}",
    )
    return (
        DynamoDbJobStore(make_client("dynamodb", settings), f"sweep-{suffix}"),
        S3BlobStore(make_client("s3", settings), f"sweep-{suffix}"),
    )


def sweeper(
    storage: tuple[DynamoDbJobStore, S3BlobStore], clock: Callable[[], float]
) -> OrphanSweep:
    store, blobs = storage
    io = BlockingIo(1, "test-sweep")
    return OrphanSweep(
        store, blobs, io, interval_s=60, min_age_s=HOUR, retention_days=30, clock=clock
    )


async def test_the_sweep_deletes_old_inputs_without_a_record_and_nothing_else(
    storage: tuple[DynamoDbJobStore, S3BlobStore],
) -> None:
    store, blobs = storage
    job = new_job()
    store.create(job)
    blobs.put_input(job.job_id, b"acknowledged", {})
    blobs.put_input("orphan-1", b"crashed between the writes", {})

    young = sweeper(storage, time.time)  # both inputs are seconds old: too young to judge
    assert await young.sweep_once() == []
    later = sweeper(storage, lambda: time.time() + 2 * HOUR)
    assert await later.sweep_once() == ["orphan-1"]
    assert [stored.job_id for stored in blobs.list_inputs(time.time() + 60)] == [job.job_id]


async def test_the_sweep_leaves_inputs_older_than_the_job_retention_alone(
    storage: tuple[DynamoDbJobStore, S3BlobStore],
) -> None:
    _, blobs = storage
    blobs.put_input("kept-on-purpose", b"save_job: its record expired, the input stays", {})
    much_later = sweeper(storage, lambda: time.time() + 40 * 24 * HOUR)
    assert await much_later.sweep_once() == []


# --- what never runs, and what fails clearly ---------------------------------------------


def test_an_input_without_a_record_is_never_assigned_even_after_a_restart(
    berth_system: BerthSystem,
) -> None:
    blobs = S3BlobStore(
        make_client("s3", AwsSettings(region="us-east-1", endpoint=berth_system.endpoint)),
        berth_system.names.bucket,
    )
    blobs.put_input(str(uuid.uuid4()), b"no record", {})
    berth_system.restart()
    with clients(berth_system) as (_, execution):
        assert Agent(execution, berth_system.tokens["executor"]).assign(wait_s=1) is None


def test_a_queued_job_whose_input_vanished_fails_saying_so(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    berth_system = make_berth_system(inline_input_bytes=0)  # every input in S3
    with clients(berth_system) as (submission, _):
        job_id = Submitter(submission, berth_system.tokens["developer"]).submit()
    berth_system.restart()  # the payload is no longer in memory: it is read at claim time
    s3 = make_client("s3", AwsSettings(region="us-east-1", endpoint=berth_system.endpoint))
    s3.delete_object(Bucket=berth_system.names.bucket, Key=f"jobs/{job_id}/input")
    with clients(berth_system) as (submission, execution):
        assert Agent(execution, berth_system.tokens["executor"]).assign(wait_s=1) is None
        user = Submitter(submission, berth_system.tokens["developer"])
        eventually(lambda: user.status(job_id).status == job_pb2.JOB_STATUS_FAILED)
        assert "input is missing" in user.status(job_id).detail
