"""Every MUST of the JobStore contract (scheduler/job_store/job_store.py), per implementation.

The DynamoDB store runs against in-process moto with the table definition
`provision()` uses, so the indexes queried here are the ones deployments get; the
in-memory store runs as the service-layer tests use it.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from moto import mock_aws

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import ensure_table
from scheduler.aws.table_definitions import jobs_table_definition
from scheduler.domain.dependencies import MAX_DEPENDENCIES
from scheduler.domain.errors import InvalidArgument
from scheduler.domain.jobs import JobRecord, JobStatus
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler.job_store.job_store import JobStore
from scheduler.job_store.memory_job_store import MemoryJobStore
from tests.job_records import ALICE, BOB, DAY, NOW, completion, new_job


def dynamodb_store(*, query_batch: int = 100, usage_page: int = 1000) -> DynamoDbJobStore:
    client = make_client("dynamodb", AwsSettings())  # region and credentials from the test
    table = f"jobs-{uuid.uuid4().hex[:8]}"
    ensure_table(client, jobs_table_definition(table))  # the jobs table as provision() makes it
    return DynamoDbJobStore(
        client,
        table,
        clock=lambda: NOW,
        query_batch=query_batch,
        usage_page=usage_page,
    )


def memory_store(*, query_batch: int = 100, usage_page: int = 1000) -> MemoryJobStore:
    """`query_batch`, `usage_page`: the DynamoDB store's; here every read reads everything."""
    return MemoryJobStore(clock=lambda: NOW)


IMPLEMENTATIONS: dict[str, Callable[..., JobStore]] = {
    "memory": memory_store,
    "dynamodb": dynamodb_store,
}


@pytest.fixture(scope="module")
def module_aws() -> Iterator[None]:
    """In-process moto for the module: each store gets its own tables, so tests stay apart
    without paying for a fresh emulator each."""
    with mock_aws():
        yield


@pytest.fixture(params=list(IMPLEMENTATIONS))
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[..., JobStore]]:
    if request.param == "dynamodb":
        request.getfixturevalue("module_aws")  # in-process moto, for this store only
    yield IMPLEMENTATIONS[request.param]


@pytest.fixture
def store(make_store: Callable[..., JobStore]) -> JobStore:
    return make_store()


def created(store: JobStore, job: JobRecord | None = None) -> JobRecord:
    job = job or new_job()
    assert store.create(job)
    return job


def running(store: JobStore, agent: str = "agent-1", lease: float = NOW + 60) -> JobRecord:
    job = created(store)
    claimed = store.claim(job.job_id, agent, lease, NOW)
    assert claimed is not None
    return claimed


# --- create / get ------------------------------------------------------------


def test_create_stores_the_job_and_get_reads_back_every_field(store: JobStore) -> None:
    job = new_job(parameters={"a": "1", "empty": ""})
    assert store.create(job) is True
    assert store.get(job.job_id) == job


def test_create_refuses_an_existing_job_id_and_keeps_the_first(store: JobStore) -> None:
    job = created(store)
    assert store.create(replace(job, backend="other", n_shots=1)) is False
    assert store.get(job.job_id) == job


def test_create_many_stores_every_job_for_any_number(store: JobStore) -> None:
    jobs = [new_job() for _ in range(30)]  # more than one DynamoDB batch
    assert store.create_many(jobs) == set()
    assert store.get_many([job.job_id for job in jobs]) == {job.job_id: job for job in jobs}
    assert store.create_many([]) == set()


def test_get_of_an_unknown_job_is_none(store: JobStore) -> None:
    assert store.get("no-such-job") is None


def test_an_inline_input_is_kept_through_every_transition_and_read(store: JobStore) -> None:
    job = created(store, replace(new_job(), inline_input=bytes(range(256))))
    assert store.get(job.job_id) == job
    claimed = store.claim(job.job_id, "agent-1", NOW + 60, NOW)
    assert claimed is not None and claimed.inline_input == job.inline_input
    requeued = store.requeue(job.job_id, 1, NOW + 61)
    assert requeued is not None and requeued.inline_input == job.inline_input
    assert store.get_many([job.job_id])[job.job_id].inline_input == job.inline_input
    assert [j.inline_input for j in store.iter_by_status(JobStatus.QUEUED)] == [job.inline_input]


# --- claim -------------------------------------------------------------------


def test_claim_moves_a_queued_job_to_running_for_the_agent(store: JobStore) -> None:
    job = created(store)
    claimed = store.claim(job.job_id, "agent-1", NOW + 60, NOW + 1)
    assert claimed is not None
    assert claimed.status is JobStatus.RUNNING
    assert (claimed.lease_holder, claimed.lease_expires_at) == ("agent-1", NOW + 60)
    assert claimed.dequeued_at == NOW + 1
    assert claimed.attempt == 1
    assert claimed.tried_agents == ["agent-1"]
    assert claimed.cancel_requested is False
    assert store.get(job.job_id) == claimed


def test_a_job_is_claimed_once(store: JobStore) -> None:
    job = created(store)
    assert store.claim(job.job_id, "agent-1", NOW + 60, NOW) is not None
    assert store.claim(job.job_id, "agent-2", NOW + 60, NOW) is None
    after = store.get(job.job_id)
    assert after is not None and after.lease_holder == "agent-1"


def test_claim_of_an_unknown_job_is_none_and_creates_nothing(store: JobStore) -> None:
    assert store.claim("ghost", "agent-1", NOW + 60, NOW) is None
    assert store.get("ghost") is None


def test_claim_is_refused_outside_queued(store: JobStore) -> None:
    job = created(store)
    store.cancel_queued(job.job_id, "cancelled", NOW, 1)
    assert store.claim(job.job_id, "agent-1", NOW + 60, NOW) is None


def test_a_requeued_job_is_claimed_again_with_a_new_attempt(store: JobStore) -> None:
    job = running(store, "agent-1", lease=NOW + 5)
    store.request_cancel(job.job_id)
    assert store.requeue(job.job_id, 1, NOW + 10) is not None
    again = store.claim(job.job_id, "agent-2", NOW + 70, NOW + 11)
    assert again is not None
    assert again.attempt == 2
    assert again.tried_agents == ["agent-1", "agent-2"]
    assert again.cancel_requested is False


def test_a_claim_told_the_current_record_claims_as_without_it(store: JobStore) -> None:
    job = created(store)
    claimed = store.claim(job.job_id, "agent-1", NOW + 60, NOW + 1, known=job)
    assert claimed is not None and claimed == store.get(job.job_id)
    assert (claimed.status, claimed.attempt, claimed.tried_agents) == (
        JobStatus.RUNNING,
        1,
        ["agent-1"],
    )


def test_a_claim_told_a_stale_record_claims_the_job_as_it_stands(store: JobStore) -> None:
    job = created(store)
    store.claim(job.job_id, "agent-1", NOW + 5, NOW)
    store.request_cancel(job.job_id)
    store.requeue(job.job_id, 1, NOW + 10)
    again = store.claim(job.job_id, "agent-2", NOW + 70, NOW + 11, known=job)
    assert again is not None and again == store.get(job.job_id)
    assert (again.attempt, again.tried_agents, again.cancel_requested) == (
        2,
        ["agent-1", "agent-2"],
        False,
    )


def test_a_claim_told_a_record_is_refused_once_the_job_left_the_queue(store: JobStore) -> None:
    cancelled, taken = created(store), created(store)
    store.cancel_queued(cancelled.job_id, "cancelled", NOW, 1)
    assert store.claim(cancelled.job_id, "agent-1", NOW + 60, NOW, known=cancelled) is None
    first = store.claim(taken.job_id, "agent-1", NOW + 60, NOW, known=taken)
    assert store.claim(taken.job_id, "agent-2", NOW + 60, NOW, known=taken) is None
    assert store.get(taken.job_id) == first
    assert (
        store.claim("ghost", "agent-1", NOW + 60, NOW, known=replace(taken, job_id="ghost")) is None
    )
    assert store.get("ghost") is None


# --- renew_lease ---------------------------------------------------------------


def test_only_the_lease_holder_renews_a_running_job(store: JobStore) -> None:
    job = running(store, "agent-1")
    assert store.renew_lease(job.job_id, "agent-2", NOW + 500) is None
    renewed = store.renew_lease(job.job_id, "agent-1", NOW + 120)
    assert renewed is not None and renewed.lease_expires_at == NOW + 120


def test_a_lease_is_renewed_and_ended_only_under_the_credential_that_claimed_it(
    store: JobStore,
) -> None:
    job = created(store)
    claimed = store.claim(job.job_id, "agent-1", NOW + 60, NOW, credential="hash-a")
    assert claimed is not None and claimed.lease_credential == "hash-a"
    assert store.get(job.job_id) == claimed
    assert store.renew_lease(job.job_id, "agent-1", NOW + 90, credential="hash-b") is None
    assert store.finish(job.job_id, "agent-1", completion(), 1, credential="hash-b") is None
    for known in (None, claimed):  # a known record changes nothing about the refusal
        refused = store.finish(job.job_id, "agent-1", completion(), 1, known=known)
        assert refused is None
    assert store.renew_lease(job.job_id, "agent-1", NOW + 90, credential="hash-a") is not None
    finished = store.finish(job.job_id, "agent-1", completion(), 1, credential="hash-a")
    assert finished is not None and finished.lease_credential == ""


def test_a_lease_recorded_without_a_credential_is_open_to_any(store: JobStore) -> None:
    """Leases taken before they were bound to a credential keep working after an upgrade."""
    job = running(store, "agent-1")
    assert job.lease_credential == ""
    assert store.renew_lease(job.job_id, "agent-1", NOW + 90, credential="hash-b") is not None
    assert store.finish(job.job_id, "agent-1", completion(), 1, credential="hash-b") is not None


def test_renew_is_refused_for_a_queued_or_finished_job(store: JobStore) -> None:
    queued = created(store)
    assert store.renew_lease(queued.job_id, "agent-1", NOW + 60) is None
    job = running(store, "agent-1")
    store.finish(job.job_id, "agent-1", completion(), 123)
    assert store.renew_lease(job.job_id, "agent-1", NOW + 60) is None


# --- finish --------------------------------------------------------------------


def test_finish_by_the_holder_records_the_completion_and_clears_the_lease(
    store: JobStore,
) -> None:
    job = running(store, "agent-1")
    done = completion()
    finished = store.finish(job.job_id, "agent-1", done, 4242)
    assert finished is not None
    assert finished.status is JobStatus.COMPLETED
    assert (finished.lease_holder, finished.lease_expires_at) == ("", 0.0)
    assert finished.job_expiry == 4242
    assert finished.detail == done.detail
    assert (finished.result_raw_bytes, finished.result_encoded_bytes, finished.log_bytes) == (
        2048,
        512,
        64,
    )
    assert finished.execution_finished_at == NOW + 9.125
    assert finished.finished_at == NOW + 9.5
    assert (finished.actual_backend, finished.agent_version, finished.runner_version) == (
        "qpu-2",
        "agent 0.1.0",
        "runner 3",
    )
    assert store.get(job.job_id) == finished


def test_a_finish_told_the_current_record_finishes_as_without_it(store: JobStore) -> None:
    job = running(store, "agent-1")
    finished = store.finish(job.job_id, "agent-1", completion(), 4242, known=job)
    assert finished is not None and finished == store.get(job.job_id)
    assert (finished.status, finished.lease_holder, finished.log_bytes) == (
        JobStatus.COMPLETED,
        "",
        64,
    )


def test_a_finish_told_a_stale_record_finishes_the_job_as_it_stands(store: JobStore) -> None:
    job = running(store, "agent-1", lease=NOW + 5)
    store.request_cancel(job.job_id)  # through another replica, say
    done = store.finish(job.job_id, "agent-1", completion(JobStatus.CANCELLED), 1, known=job)
    assert done is not None and done == store.get(job.job_id) and done.cancel_requested
    again = running(store, "agent-1", lease=NOW + 5)
    store.requeue(again.job_id, 1, NOW + 10)
    current = store.claim(again.job_id, "agent-1", NOW + 70, NOW + 11)  # the same agent
    assert current is not None and current.attempt == 2
    finished = store.finish(again.job_id, "agent-1", completion(), 1, known=again)
    assert finished is not None and finished == store.get(again.job_id)
    assert finished.attempt == 2


def test_a_finish_told_a_record_is_refused_once_the_agent_lost_the_job(store: JobStore) -> None:
    job = running(store, "agent-1", lease=NOW + 5)
    store.requeue(job.job_id, 1, NOW + 10)
    assert store.finish(job.job_id, "agent-1", completion(), 1, known=job) is None
    assert store.get(job.job_id) == replace(
        job, status=JobStatus.QUEUED, lease_holder="", lease_expires_at=0.0, result_attempt=0
    )


def test_a_finished_job_names_the_attempt_whose_objects_it_serves(store: JobStore) -> None:
    job = running(store, "agent-1", lease=NOW + 5)
    assert (job.attempt, job.result_attempt) == (1, 1)
    requeued = store.requeue(job.job_id, 1, NOW + 10)
    assert requeued is not None and requeued.result_attempt == 0  # attempt 1 can never win now
    again = store.claim(job.job_id, "agent-2", NOW + 70, NOW + 11)
    assert again is not None and (again.attempt, again.result_attempt) == (2, 2)
    # A finish for the attempt whose result was checked, and no other.
    assert store.finish(job.job_id, "agent-2", completion(), 1, attempt=1) is None
    finished = store.finish(job.job_id, "agent-2", completion(), 1, known=again, attempt=2)
    assert finished is not None and (finished.attempt, finished.result_attempt) == (2, 2)
    assert store.get(job.job_id) == finished


def test_finish_by_another_agent_is_refused(store: JobStore) -> None:
    job = running(store, "agent-1")
    assert store.finish(job.job_id, "agent-2", completion(), 1) is None
    assert store.get(job.job_id) == job


@pytest.mark.parametrize("second", [JobStatus.COMPLETED, JobStatus.FAILED])
def test_finish_from_a_terminal_status_is_refused(store: JobStore, second: JobStatus) -> None:
    job = running(store, "agent-1")
    first = store.finish(job.job_id, "agent-1", completion(JobStatus.COMPLETED), 1)
    assert store.finish(job.job_id, "agent-1", completion(second), 2) is None
    assert store.get(job.job_id) == first


def test_finish_of_a_queued_job_is_refused(store: JobStore) -> None:
    job = created(store)
    assert store.finish(job.job_id, "agent-1", completion(), 1) is None


# --- cancel_queued / request_cancel --------------------------------------------


def test_cancel_queued_cancels_a_queued_job(store: JobStore) -> None:
    job = created(store)
    cancelled = store.cancel_queued(job.job_id, "cancelled by its owner", NOW + 3, 777)
    assert cancelled is not None
    assert cancelled.status is JobStatus.CANCELLED
    assert (cancelled.detail, cancelled.finished_at, cancelled.job_expiry) == (
        "cancelled by its owner",
        NOW + 3,
        777,
    )


def test_cancel_queued_is_refused_for_running_and_terminal_jobs(store: JobStore) -> None:
    job = running(store)
    assert store.cancel_queued(job.job_id, "no", NOW, 1) is None
    assert store.get(job.job_id) == job
    queued = created(store)
    store.cancel_queued(queued.job_id, "first", NOW, 1)
    assert store.cancel_queued(queued.job_id, "second", NOW, 1) is None
    after = store.get(queued.job_id)
    assert after is not None and after.detail == "first"


def test_request_cancel_flags_a_running_job_only(store: JobStore) -> None:
    job = running(store)
    flagged = store.request_cancel(job.job_id)
    assert flagged is not None
    assert flagged.cancel_requested is True
    assert flagged.status is JobStatus.RUNNING
    queued = created(store)
    assert store.request_cancel(queued.job_id) is None
    store.finish(job.job_id, "agent-1", completion(JobStatus.CANCELLED), 1)
    assert store.request_cancel(job.job_id) is None


# --- requeue / end_running ------------------------------------------------------


def test_requeue_needs_an_expired_lease(store: JobStore) -> None:
    job = running(store, lease=NOW + 60)
    assert store.requeue(job.job_id, 1, NOW + 59) is None
    assert store.requeue(job.job_id, 1, NOW + 60) is None  # expired *before* now
    assert store.get(job.job_id) == job


def test_requeue_needs_the_matching_attempt(store: JobStore) -> None:
    job = running(store, lease=NOW + 60)
    assert store.requeue(job.job_id, 2, NOW + 100) is None
    assert store.requeue(job.job_id, 0, NOW + 100) is None


def test_requeue_returns_the_job_to_the_queue_keeping_queued_at(store: JobStore) -> None:
    job = running(store, lease=NOW + 60)
    requeued = store.requeue(job.job_id, 1, NOW + 61)
    assert requeued is not None
    assert requeued.status is JobStatus.QUEUED
    assert requeued.queued_at == job.queued_at
    assert (requeued.lease_holder, requeued.lease_expires_at) == ("", 0.0)
    assert requeued.attempt == 1
    assert store.requeue(job.job_id, 1, NOW + 62) is None


def test_a_renewal_wins_over_a_requeue_decided_on_the_old_lease(store: JobStore) -> None:
    job = running(store, lease=NOW + 60)
    store.renew_lease(job.job_id, "agent-1", NOW + 120)
    assert store.requeue(job.job_id, 1, NOW + 61) is None


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.TIMEOUT])
def test_end_running_ends_the_attempt(store: JobStore, status: JobStatus) -> None:
    job = running(store, lease=NOW + 60)
    ended = store.end_running(
        job.job_id, 1, status, "timed out", NOW + 5, 999, require_expired_lease=False
    )
    assert ended is not None
    assert ended.status is status
    assert (ended.detail, ended.finished_at, ended.job_expiry) == ("timed out", NOW + 5, 999)
    assert (ended.lease_holder, ended.lease_expires_at) == ("", 0.0)


def test_end_running_with_require_expired_lease_waits_for_expiry(store: JobStore) -> None:
    job = running(store, lease=NOW + 60)
    end = store.end_running
    assert (
        end(job.job_id, 1, JobStatus.FAILED, "x", NOW + 30, 1, require_expired_lease=True) is None
    )
    ended = end(job.job_id, 1, JobStatus.FAILED, "x", NOW + 61, 1, require_expired_lease=True)
    assert ended is not None and ended.status is JobStatus.FAILED


def test_end_running_is_refused_for_another_attempt_or_a_finished_job(store: JobStore) -> None:
    job = running(store, lease=NOW + 60)
    end = store.end_running
    assert end(job.job_id, 2, JobStatus.FAILED, "x", NOW, 1, require_expired_lease=False) is None
    store.finish(job.job_id, "agent-1", completion(), 1)
    assert end(job.job_id, 1, JobStatus.FAILED, "x", NOW, 1, require_expired_lease=False) is None
    queued = created(store)
    assert (
        end(queued.job_id, 0, JobStatus.TIMEOUT, "x", NOW, 1, require_expired_lease=False) is None
    )


# --- requeue_running / fail_queued (operator actions) ---------------------------


def test_requeue_running_takes_a_job_back_while_its_lease_is_live(store: JobStore) -> None:
    job = running(store, lease=NOW + 600)
    requeued = store.requeue_running(job.job_id, 1, "requeued by admin root")
    assert requeued is not None
    assert requeued.status is JobStatus.QUEUED
    assert requeued.detail == "requeued by admin root"
    assert requeued.queued_at == job.queued_at
    assert (requeued.lease_holder, requeued.lease_expires_at) == ("", 0.0)
    assert (requeued.attempt, requeued.tried_agents) == (1, ["agent-1"])
    assert store.renew_lease(job.job_id, "agent-1", NOW + 700) is None
    assert store.finish(job.job_id, "agent-1", completion(), 1) is None
    again = store.claim(job.job_id, "agent-2", NOW + 70, NOW + 11)
    assert again is not None and again.attempt == 2


def test_requeue_running_is_refused_for_another_attempt_or_status(store: JobStore) -> None:
    job = running(store)
    assert store.requeue_running(job.job_id, 2, "x") is None
    queued = created(store)
    assert store.requeue_running(queued.job_id, 0, "x") is None
    store.finish(job.job_id, "agent-1", completion(), 1)
    assert store.requeue_running(job.job_id, 1, "x") is None
    assert store.requeue_running("ghost", 1, "x") is None
    assert store.get("ghost") is None


def test_requeue_running_leaves_a_job_whose_owner_asked_to_cancel(store: JobStore) -> None:
    job = running(store)
    flagged = store.request_cancel(job.job_id)
    assert store.requeue_running(job.job_id, 1, "x") is None
    assert store.get(job.job_id) == flagged


def test_fail_queued_fails_a_queued_job_only(store: JobStore) -> None:
    job = created(store)
    failed = store.fail_queued(job.job_id, "failed by admin root: bad input", NOW + 4, 555)
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    assert (failed.detail, failed.finished_at, failed.job_expiry) == (
        "failed by admin root: bad input",
        NOW + 4,
        555,
    )
    assert store.fail_queued(job.job_id, "again", NOW, 1) is None
    assert store.claim(job.job_id, "agent-1", NOW + 60, NOW) is None
    busy = running(store)
    assert store.fail_queued(busy.job_id, "no", NOW, 1) is None
    assert store.get(busy.job_id) == busy


# --- hold / release ----------------------------------------------------------------


def test_hold_sets_a_queued_job_aside_and_no_agent_can_claim_it(store: JobStore) -> None:
    job = created(store)
    held = store.hold_queued(job.job_id, "held by its owner")
    assert held is not None
    assert (held.status, held.detail, held.queued_at) == (
        JobStatus.HELD,
        "held by its owner",
        job.queued_at,
    )
    assert store.get(job.job_id) == held
    assert store.hold_queued(job.job_id, "again") is None
    assert store.claim(job.job_id, "agent-1", NOW + 60, NOW) is None
    assert store.claim(job.job_id, "agent-1", NOW + 60, NOW, known=job) is None
    assert [j.job_id for j in store.iter_by_status(JobStatus.HELD)] == [job.job_id]
    busy = running(store)
    assert store.hold_queued(busy.job_id, "no") is None


def test_release_queues_a_held_job_with_a_new_queue_age(store: JobStore) -> None:
    job = created(store)
    assert store.release_held(job.job_id, "", NOW + 9) is None  # not HELD
    store.hold_queued(job.job_id, "held by its owner")
    released = store.release_held(job.job_id, "", NOW + 9)
    assert released is not None
    assert (released.status, released.detail, released.queued_at) == (JobStatus.QUEUED, "", NOW + 9)
    # A claim told the record from before the hold claims the job as it stands now.
    claimed = store.claim(job.job_id, "agent-1", NOW + 70, NOW + 10, known=job)
    assert claimed is not None and claimed.queued_at == NOW + 9
    assert store.get(job.job_id) == claimed


def test_a_held_job_may_be_cancelled_or_failed(store: JobStore) -> None:
    first, second = created(store), created(store)
    store.hold_queued(first.job_id, "held")
    store.hold_queued(second.job_id, "held")
    cancelled = store.cancel_queued(first.job_id, "cancelled by its owner", NOW, 1)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    failed = store.fail_queued(second.job_id, "failed by admin", NOW, 1)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert store.release_held(first.job_id, "", NOW) is None


# --- waiting on dependencies --------------------------------------------------------


def waiting(store: JobStore, *, queued_at: float = NOW) -> JobRecord:
    """A job created WAITING for two others (dependencies.py)."""
    job = replace(
        new_job(queued_at=queued_at),
        status=JobStatus.WAITING,
        depends_on=["job-parent-1", "job-parent-2"],
        dependency="afterok",
        detail="waiting for 2 of 2 jobs: job-parent-1, job-parent-2",
    )
    return created(store, job)


def test_a_waiting_job_is_stored_with_its_dependencies_and_listed_as_waiting(
    store: JobStore,
) -> None:
    job = waiting(store)
    bulk = replace(new_job(), status=JobStatus.WAITING, depends_on=[job.job_id])
    assert store.create_many([bulk]) == set()
    assert store.get(job.job_id) == job
    assert store.get_many([bulk.job_id]) == {bulk.job_id: bulk}
    assert [j.job_id for j in store.iter_by_status(JobStatus.WAITING)] == [job.job_id, bulk.job_id]
    assert list(store.ids_by_status(JobStatus.WAITING)) == [job.job_id, bulk.job_id]
    assert list(store.ids_by_status(JobStatus.QUEUED)) == []
    assert store.claim(job.job_id, "agent-1", NOW + 60, NOW) is None
    page = store.list_for_owner(
        ALICE, status=JobStatus.WAITING, backend=None, page_size=10, page_token=""
    )
    assert {j.job_id for j in page.jobs} == {job.job_id, bulk.job_id}


def test_a_job_naming_the_most_dependencies_is_stored_whole(store: JobStore) -> None:
    many = [str(uuid.uuid4()) for _ in range(MAX_DEPENDENCIES)]
    job = created(store, replace(new_job(), status=JobStatus.WAITING, depends_on=many))
    assert store.get(job.job_id) == job


def test_promote_waiting_queues_the_job_with_its_queue_age_starting_then(store: JobStore) -> None:
    job = waiting(store)
    assert store.promote_waiting(created(store).job_id, NOW + 5) is None  # QUEUED: not WAITING
    promoted = store.promote_waiting(job.job_id, NOW + 5)
    assert promoted is not None
    assert (promoted.status, promoted.queued_at, promoted.detail) == (JobStatus.QUEUED, NOW + 5, "")
    assert promoted.depends_on == job.depends_on and promoted.dependency == "afterok"
    assert store.promote_waiting(job.job_id, NOW + 6) is None
    assert store.cancel_waiting(job.job_id, "no", NOW, 1) is None  # queued now: stays
    claimed = store.claim(job.job_id, "agent-1", NOW + 70, NOW + 10, known=job)
    assert claimed is not None and claimed.queued_at == NOW + 5
    assert store.promote_waiting("no-such-job", NOW) is None


def test_cancel_waiting_ends_a_waiting_job_only(store: JobStore) -> None:
    job = waiting(store)
    detail = "dependency job job-parent-1 ended FAILED; afterok needs every dependency COMPLETED"
    cancelled = store.cancel_waiting(job.job_id, detail, NOW + 3, 777)
    assert cancelled is not None
    assert (cancelled.status, cancelled.detail, cancelled.finished_at, cancelled.job_expiry) == (
        JobStatus.CANCELLED,
        detail,
        NOW + 3,
        777,
    )
    assert store.get(job.job_id) == cancelled
    assert store.cancel_waiting(job.job_id, "again", NOW, 1) is None
    held = waiting(store)
    store.hold_queued(held.job_id, "held")
    assert store.cancel_waiting(held.job_id, "no", NOW, 1) is None
    queued = created(store)
    assert store.cancel_waiting(queued.job_id, "no", NOW, 1) is None
    assert store.get(queued.job_id) == queued


def test_a_waiting_job_may_be_cancelled_failed_or_held_and_released_to_waiting(
    store: JobStore,
) -> None:
    first, second, third = waiting(store), waiting(store), waiting(store)
    cancelled = store.cancel_queued(first.job_id, "cancelled by its owner", NOW, 1)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    failed = store.fail_queued(second.job_id, "failed by admin", NOW, 1)
    assert failed is not None and failed.status is JobStatus.FAILED
    held = store.hold_queued(third.job_id, "held by its owner")
    assert held is not None and (held.status, held.detail) == (JobStatus.HELD, "held by its owner")
    assert store.promote_waiting(third.job_id, NOW) is None
    released = store.release_held(third.job_id, "", NOW + 9, waiting=True)
    assert released is not None
    assert (released.status, released.queued_at) == (JobStatus.WAITING, NOW + 9)
    assert store.get(third.job_id) == released


# --- retry_failed and the attempt log ------------------------------------------------


def test_retry_failed_queues_the_holders_job_again_logging_the_attempt(store: JobStore) -> None:
    job = running(store, "agent-1")
    assert store.retry_failed(job.job_id, "agent-2", "x", "entry") is None  # not the holder
    retried = store.retry_failed(job.job_id, "agent-1", "attempt 1 failed, retrying", "one")
    assert retried is not None
    assert (retried.status, retried.lease_holder, retried.detail) == (
        JobStatus.QUEUED,
        "",
        "attempt 1 failed, retrying",
    )
    assert (retried.attempt, retried.attempt_log, retried.queued_at) == (1, ["one"], job.queued_at)
    assert store.get(job.job_id) == retried
    assert store.retry_failed(job.job_id, "agent-1", "again", "two") is None
    again = store.claim(job.job_id, "agent-2", NOW + 90, NOW + 30)
    assert again is not None and again.attempt_log == ["one"]


def test_requeues_append_to_the_attempt_log_when_told(store: JobStore) -> None:
    job = running(store, "agent-1", lease=NOW + 5)
    lost = store.requeue(job.job_id, 1, NOW + 10, logged="lost")
    assert lost is not None and lost.attempt_log == ["lost"]
    store.claim(job.job_id, "agent-2", NOW + 70, NOW + 11)
    moved = store.requeue_running(job.job_id, 2, "requeued by admin", logged="moved")
    assert moved is not None and moved.attempt_log == ["lost", "moved"]
    store.claim(job.job_id, "agent-1", NOW + 90, NOW + 20)
    silent = store.requeue_running(job.job_id, 3, "requeued by admin")
    assert silent is not None and silent.attempt_log == ["lost", "moved"]


# --- iter_by_status ---------------------------------------------------------------


def test_iter_by_status_yields_oldest_queued_first(store: JobStore) -> None:
    offsets = [5.0, 1.0, 3.5, 0.25, 2.0]
    jobs = [created(store, new_job(queued_at=NOW + offset)) for offset in offsets]
    claimed = store.claim(jobs[2].job_id, "agent-1", NOW + 60, NOW)
    assert claimed is not None
    queued = list(store.iter_by_status(JobStatus.QUEUED))
    expected = sorted((j for j in jobs if j.job_id != claimed.job_id), key=lambda j: j.queued_at)
    assert [j.job_id for j in queued] == [j.job_id for j in expected]
    assert [j.job_id for j in store.iter_by_status(JobStatus.RUNNING)] == [claimed.job_id]
    assert list(store.iter_by_status(JobStatus.TIMEOUT)) == []


def test_iter_by_status_reads_past_one_response_page(store: JobStore) -> None:
    # DynamoDB returns at most 1 MB per Query: five ~300 kB records need two responses.
    big = {"blob": "x" * 300_000}
    jobs = [created(store, new_job(queued_at=NOW + i, parameters=big)) for i in range(5)]
    assert [j.job_id for j in store.iter_by_status(JobStatus.QUEUED)] == [j.job_id for j in jobs]


def test_ids_by_status_lists_the_ids_of_iter_by_status_in_order(store: JobStore) -> None:
    big = {"blob": "x" * 300_000}  # past one 1 MB response, as above
    jobs = [created(store, new_job(queued_at=NOW - i, parameters=big)) for i in range(5)]
    claimed = store.claim(jobs[0].job_id, "agent-1", NOW + 60, NOW)
    assert claimed is not None
    expected = [job.job_id for job in reversed(jobs[1:])]
    assert list(store.ids_by_status(JobStatus.QUEUED)) == expected
    assert list(store.ids_by_status(JobStatus.RUNNING)) == [claimed.job_id]


# --- get_many ------------------------------------------------------------------------


def test_get_many_returns_the_records_that_exist_for_any_number_of_ids(store: JobStore) -> None:
    jobs = [created(store) for _ in range(120)]  # more than one DynamoDB batch
    missing = [f"missing-{n}" for n in range(5)]
    found = store.get_many([job.job_id for job in jobs] + missing)
    assert found == {job.job_id: job for job in jobs}
    assert store.get_many([]) == {}


def test_get_many_sees_a_transition_just_made(store: JobStore) -> None:
    job = created(store)
    claimed = store.claim(job.job_id, "agent-1", NOW + 60, NOW)
    assert store.get_many([job.job_id, job.job_id]) == {job.job_id: claimed}


# --- list_for_owner ------------------------------------------------------------------


def _ids_of(jobs: list[JobRecord]) -> list[str]:
    return [job.job_id for job in jobs]


def test_list_for_owner_is_newest_first_and_only_the_owners(store: JobStore) -> None:
    mine = [created(store, new_job(submitted_at=NOW - i * 60)) for i in range(4)]
    created(store, new_job(owner=BOB))
    page = store.list_for_owner(ALICE, status=None, backend=None, page_size=10, page_token="")
    assert _ids_of(page.jobs) == _ids_of(mine)
    assert page.next_page_token == ""
    assert page.jobs[0] == mine[0]


def test_list_for_owner_filters_by_status_and_backend(store: JobStore) -> None:
    a = created(store, new_job(backend="qpu", submitted_at=NOW - 1))
    b = created(store, new_job(backend="gpu", submitted_at=NOW - 2))
    c = created(store, new_job(backend="qpu", submitted_at=NOW - 3))
    store.claim(c.job_id, "agent-1", NOW + 60, NOW)

    def listed(status: JobStatus | None, backend: str | None) -> list[str]:
        page = store.list_for_owner(
            ALICE, status=status, backend=backend, page_size=10, page_token=""
        )
        return _ids_of(page.jobs)

    assert listed(JobStatus.QUEUED, None) == [a.job_id, b.job_id]
    assert listed(None, "qpu") == [a.job_id, c.job_id]
    assert listed(JobStatus.RUNNING, "qpu") == [c.job_id]
    assert listed(JobStatus.COMPLETED, None) == []


def _all_pages(fetch: Callable[[str], tuple[list[JobRecord], str]]) -> list[list[str]]:
    pages: list[list[str]] = []
    token = ""
    while True:
        jobs, token = fetch(token)
        pages.append(_ids_of(jobs))
        if not token:
            return pages
        assert len(pages) < 50, "paging does not end"


def test_list_for_owner_pages_through_every_job_once(store: JobStore) -> None:
    mine = [created(store, new_job(submitted_at=NOW - i)) for i in range(5)]

    def fetch(token: str) -> tuple[list[JobRecord], str]:
        page = store.list_for_owner(ALICE, status=None, backend=None, page_size=2, page_token=token)
        return page.jobs, page.next_page_token

    pages = _all_pages(fetch)
    assert [job for page in pages for job in page] == _ids_of(mine)
    assert [len(page) for page in pages[:2]] == [2, 2]


def test_filtered_pages_are_filled_across_storage_reads(
    make_store: Callable[..., JobStore],
) -> None:
    # query_batch=2 makes every DynamoDB Query evaluate two items: most pages need several.
    store = make_store(query_batch=2)
    jobs = [
        created(store, new_job(backend="gpu" if i % 3 == 0 else "qpu", submitted_at=NOW - i))
        for i in range(14)
    ]
    gpu = [job for job in jobs if job.backend == "gpu"]

    def fetch(token: str) -> tuple[list[JobRecord], str]:
        page = store.list_for_owner(
            ALICE, status=None, backend="gpu", page_size=2, page_token=token
        )
        return page.jobs, page.next_page_token

    pages = _all_pages(fetch)
    assert [job for page in pages for job in page] == _ids_of(gpu)
    assert all(len(page) == 2 for page in pages[:-1])


def _token(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "bm90IGpzb24",  # "not json"
        _token([1, 2]),
        _token({"v": 1, "scope": "owner", "o": ALICE[:12]}),
        _token({"v": 1, "scope": "owner", "o": ALICE[:12], "job_id": "x", "at": "z"}),
        _token({"v": 1, "scope": "owner", "o": ALICE[:12], "job_id": "x", "at": "NaN"}),
        _token({"v": 1, "scope": "owner", "o": ALICE[:12], "job_id": 7, "at": "1"}),
        _token({"v": 2, "scope": "owner", "o": ALICE[:12], "job_id": "x", "at": "1"}),
        _token({"v": 1, "scope": "all", "day": "2025-06-15", "job_id": None, "at": None}),
    ],
)
def test_list_for_owner_refuses_a_token_it_did_not_issue(store: JobStore, token: str) -> None:
    created(store)
    with pytest.raises(InvalidArgument, match="page_token is not one this server issued"):
        store.list_for_owner(ALICE, status=None, backend=None, page_size=5, page_token=token)


def test_a_token_issued_to_one_owner_does_not_list_another(store: JobStore) -> None:
    for i in range(3):
        created(store, new_job(owner=BOB, submitted_at=NOW - i))
    page = store.list_for_owner(BOB, status=None, backend=None, page_size=1, page_token="")
    assert page.next_page_token
    with pytest.raises(InvalidArgument):
        store.list_for_owner(
            ALICE, status=None, backend=None, page_size=1, page_token=page.next_page_token
        )


# --- list_all -------------------------------------------------------------------------


def test_list_all_lists_every_owner_newest_first_across_days(store: JobStore) -> None:
    jobs = [
        created(store, new_job(owner=ALICE, submitted_at=NOW - 10)),
        created(store, new_job(owner=BOB, submitted_at=NOW - 20)),
        created(store, new_job(owner=ALICE, submitted_at=NOW - 1.5 * DAY)),
        created(store, new_job(owner=BOB, submitted_at=NOW - 4 * DAY)),
        created(store, new_job(owner=ALICE, submitted_at=NOW - 4 * DAY - 1)),
    ]
    page = store.list_all(status=None, backend=None, page_size=100, page_token="")
    assert _ids_of(page.jobs) == _ids_of(jobs)
    assert page.next_page_token == ""

    def fetch(token: str) -> tuple[list[JobRecord], str]:
        page = store.list_all(status=None, backend=None, page_size=2, page_token=token)
        return page.jobs, page.next_page_token

    pages = _all_pages(fetch)
    assert [job for page in pages for job in page] == _ids_of(jobs)


def test_list_all_filters(store: JobStore) -> None:
    a = created(store, new_job(owner=ALICE, backend="gpu", submitted_at=NOW - 5))
    created(store, new_job(owner=BOB, backend="qpu", submitted_at=NOW - 6))
    c = created(store, new_job(owner=BOB, backend="gpu", submitted_at=NOW - 2 * DAY))
    store.claim(c.job_id, "agent-1", NOW + 60, NOW)
    gpu = store.list_all(status=None, backend="gpu", page_size=10, page_token="")
    assert _ids_of(gpu.jobs) == [a.job_id, c.job_id]
    running_gpu = store.list_all(
        status=JobStatus.RUNNING, backend="gpu", page_size=10, page_token=""
    )
    assert _ids_of(running_gpu.jobs) == [c.job_id]


def test_list_all_refuses_a_token_it_did_not_issue(store: JobStore) -> None:
    created(store)
    bad = _token({"v": 1, "scope": "all", "day": "2025-13-45", "job_id": None, "at": None})
    with pytest.raises(InvalidArgument, match="page_token is not one this server issued"):
        store.list_all(status=None, backend=None, page_size=5, page_token=bad)


def test_list_all_walks_back_over_the_retention_window_only(store: JobStore) -> None:
    """Not a contract MUST (how far back is a store's own choice): both take retention_days."""
    recent = created(store, new_job(submitted_at=NOW - 30 * DAY))
    created(store, new_job(submitted_at=NOW - 40 * DAY))  # past the 31-day job TTL
    page = store.list_all(status=None, backend=None, page_size=10, page_token="")
    assert _ids_of(page.jobs) == [recent.job_id]


# --- pages_submitted_since ----------------------------------------------------------------


def test_pages_submitted_since_reads_the_window_of_one_owner_or_everyone(
    make_store: Callable[..., JobStore],
) -> None:
    store = make_store(usage_page=2)
    since = NOW - 3 * DAY
    alice = [
        created(store, new_job(owner=ALICE, submitted_at=since + t)) for t in (0, 9, DAY, 2 * DAY)
    ]
    bob = [created(store, new_job(owner=BOB, submitted_at=since + t)) for t in (5, 2.5 * DAY)]
    created(store, new_job(owner=ALICE, submitted_at=since - 0.001))
    created(store, new_job(owner=BOB, submitted_at=since - 20 * DAY))

    def read(owner: str | None) -> tuple[set[str], list[list[JobRecord]]]:
        pages = list(store.pages_submitted_since(since, owner=owner))
        ids = [job.job_id for page in pages for job in page]
        assert len(ids) == len(set(ids))  # each job once
        return set(ids), pages

    ids, pages = read(ALICE)
    assert ids == {job.job_id for job in alice}
    if isinstance(store, DynamoDbJobStore):  # its pages are Queries of `usage_page` items
        assert len(pages) >= 2 and all(len(page) <= 2 for page in pages)
    everyone, _ = read(None)
    assert everyone == {job.job_id for job in alice + bob}
    assert read("c" * 64)[0] == set()


# --- records are values ------------------------------------------------------------------


def test_a_record_read_or_written_is_the_callers_own(store: JobStore) -> None:
    job = created(store)
    job.parameters["changed"] = "after create"
    read = store.get(job.job_id)
    assert read is not None and "changed" not in read.parameters
    read.tried_agents.append("nobody")
    claimed = store.claim(job.job_id, "agent-1", NOW + 60, NOW)
    assert claimed is not None and claimed.tried_agents == ["agent-1"]


def test_memory_store_transitions_are_atomic_across_threads() -> None:
    """Several service layers share one in-memory store from their worker threads."""
    store = MemoryJobStore(clock=lambda: NOW)
    jobs = [created(store) for _ in range(50)]
    winners: list[tuple[str, str]] = []
    start = threading.Barrier(4)

    def claim_all(agent: str) -> None:
        start.wait()
        for job in jobs:
            if store.claim(job.job_id, agent, NOW + 60, NOW) is not None:
                winners.append((job.job_id, agent))

    threads = [threading.Thread(target=claim_all, args=(f"agent-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(job_id for job_id, _ in winners) == sorted(job.job_id for job in jobs)
    assert all(store.get(job_id).attempt == 1 for job_id, _ in winners)  # type: ignore[union-attr]
