"""`berth usage` and GetUsage over a real scheduler, against a brute-force count.

A seeded mix of jobs (owners, backends, days, every outcome, run and queue
times, bytes) is written through the job store into the system's own table;
the reports asked through the gRPC server and the CLI's --json must equal the
oracle's figures over the same jobs, and show each developer only their own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduler.domain.jobs import Completion, JobRecord, JobStatus, Role
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler_client import Client, InvalidArgumentError, PermissionDeniedError
from tests.berth_system import BerthSystem
from tests.client_harness import RunCli, cli_runner
from tests.job_records import DAY, new_job
from tests.usage_oracle import assert_same_figures, expected_usage

WEEK_S = 7 * DAY
OTHERS = {"c" * 64: "carol", "d" * 64: "dave"}
BACKENDS = ("emulator", "qpu", "sim")
SKEW_S = 300.0  # the store looks this far into "tomorrow" for everyone's jobs
# One worker seeds the module's system once, instead of each worker that runs some of its tests.
pytestmark = pytest.mark.xdist_group("usage-accounting")


@dataclasses.dataclass(frozen=True)
class Seeded:
    system: BerthSystem
    jobs: list[JobRecord]  # the model: what each job was made to be
    developer: str  # the developer token's owner


@pytest.fixture(scope="module")
def seeded(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    system = BerthSystem(moto_endpoint, tmp_path_factory.mktemp("usage")).start()
    try:
        developer = hashlib.sha256(system.tokens["developer"].encode()).hexdigest()
        store = DynamoDbJobStore(system.aws_client("dynamodb"), system.names.table)
        owners = {developer: "dev-developer", **OTHERS}
        jobs = seed_jobs(store, owners, random.Random(20261206), time.time())
        yield Seeded(system, jobs, developer)
    finally:
        system.stop()


def seed_jobs(
    store: DynamoDbJobStore, owners: dict[str, str], rng: random.Random, now: float
) -> list[JobRecord]:
    """~120 jobs over the last ten days, none within an hour of the 7-day edge."""
    model: list[JobRecord] = []
    for _ in range(120):
        owner = rng.choice(list(owners))
        back = rng.choice([rng.uniform(60, WEEK_S - 3600), rng.uniform(WEEK_S + 3600, 10 * DAY)])
        job = new_job(owner=owner, backend=rng.choice(BACKENDS), submitted_at=now - back)
        job.owner_name, job.size_bytes = owners[owner], rng.randrange(100, 50_000)
        job.job_expiry, job.inline_input = int(now + 30 * DAY), b"x"
        job.timeout_s = 60 * DAY  # the scheduler must not end a seeded RUNNING job
        model.append(job)
    assert not store.create_many(model)
    for job in model:
        status = rng.choice(list(JobStatus))
        if status is JobStatus.QUEUED:
            continue
        if status is JobStatus.HELD:
            assert store.hold_queued(job.job_id, "held by its owner")
            job.status = status
            continue
        if status is JobStatus.WAITING:  # as a held job with dependencies, released
            assert store.hold_queued(job.job_id, "held by its owner")
            released = store.release_held(job.job_id, "", job.queued_at, waiting=True)
            assert released is not None
            job.status = status
            continue
        if status in (JobStatus.CANCELLED, JobStatus.FAILED) and rng.random() < 0.4:
            end = store.cancel_queued if status is JobStatus.CANCELLED else store.fail_queued
            assert end(job.job_id, "seeded", job.queued_at + 5, job.job_expiry)
            job.status = status
            continue
        job.dequeued_at = job.queued_at + rng.uniform(0.1, 900)
        assert store.claim(job.job_id, "agent-1", now + DAY, job.dequeued_at)
        job.status = status
        if status is JobStatus.RUNNING:
            continue
        if status in (JobStatus.FAILED, JobStatus.TIMEOUT) and rng.random() < 0.3:
            ended = store.end_running(  # the scheduler ended it: no run time, no bytes
                job.job_id,
                1,
                status,
                "lost",
                job.dequeued_at + 60,
                job.job_expiry,
                require_expired_lease=False,
            )
            assert ended
            continue
        job.execution_started_at = job.dequeued_at + rng.uniform(0, 2)
        job.execution_finished_at = job.execution_started_at + rng.uniform(0.5, 600)
        job.result_encoded_bytes, job.log_bytes = rng.randrange(0, 9000), rng.randrange(0, 900)
        assert store.finish(job.job_id, "agent-1", completion_of(job), job.job_expiry)
    return model


def completion_of(job: JobRecord) -> Completion:
    return Completion(
        status=job.status,
        detail="",
        result_raw_bytes=job.result_encoded_bytes * 3,
        result_encoded_bytes=job.result_encoded_bytes,
        log_bytes=job.log_bytes,
        dequeued_at=job.dequeued_at,
        execution_started_at=job.execution_started_at,
        execution_finished_at=job.execution_finished_at,
        finished_at=job.execution_finished_at + 0.2,
        actual_backend=job.backend,
        agent_version="agent",
        runner_version="runner",
    )


@pytest.fixture
def cli(
    seeded: Seeded, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> RunCli:
    return cli_runner(seeded.system, capsysbinary, monkeypatch)


def client(seeded: Seeded, role: Role) -> Client:
    return Client(seeded.system.submission_address, seeded.system.tokens[role.value])


def assert_report(report: dict[str, Any], jobs: list[JobRecord], by: str) -> None:
    total, groups = expected_usage(jobs, datetime.fromisoformat(report["since"]).timestamp(), by)
    assert total["jobs"] > 0 and (by == "total" or len(groups) > 1)  # the seed covers it
    assert_same_figures(report["total"], total)
    assert [g["key"] for g in report["groups"]] == [g["key"] for g in groups]
    for actual, expected in zip(report["groups"], groups, strict=True):
        assert_same_figures(actual, expected)


def days_walked(since: float, until: float) -> int:
    first, last = (datetime.fromtimestamp(t, UTC).date() for t in (since, until + SKEW_S))
    return (last - first).days + 1


# --- a developer's own jobs ---------------------------------------------------------------


@pytest.mark.parametrize("by", ["total", "backend", "day"])
def test_a_developers_report_counts_exactly_their_own_jobs(seeded: Seeded, by: str) -> None:
    own = [job for job in seeded.jobs if job.owner == seeded.developer]
    with client(seeded, Role.DEVELOPER) as developer:
        report = developer.usage(timedelta(days=7), by=by)
    assert_report(report.to_json(), own, by)
    assert report.storage_queries == 1  # one owner-index Query: under 1000 jobs


def test_the_cli_json_equals_the_count_and_a_longer_window_takes_older_jobs(
    seeded: Seeded, cli: RunCli
) -> None:
    own = [job for job in seeded.jobs if job.owner == seeded.developer]
    ran = cli("usage", "--by", "day", "--json")
    assert ran.code == 0, ran.err
    week = ran.json()
    assert_report(week, own, "day")
    assert week["by"] == "day" and week["all_users"] is False

    ran = cli("usage", "--since", "10d", "--json")
    assert ran.code == 0, ran.err
    assert_report(ran.json(), own, "total")
    assert ran.json()["total"]["jobs"] > week["total"]["jobs"]


def test_the_text_report_has_a_row_per_group_and_a_total(seeded: Seeded, cli: RunCli) -> None:
    ran = cli("usage", "--by", "backend")
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines[0].startswith("your jobs submitted since") and "1 storage queries" in lines[0]
    assert lines[1].split()[:3] == ["JOBS", "COMPLETED", "FAILED"]
    assert [line.split()[0] for line in lines[2:]] == [*BACKENDS, "total"]


def test_a_guest_with_no_jobs_gets_zeros(seeded: Seeded) -> None:
    with client(seeded, Role.GUEST) as guest:
        report = guest.usage(3600)
    assert report.total.jobs == 0 and report.groups == []


# --- admins: everyone's jobs -------------------------------------------------------------


def test_an_admin_reports_every_user_walking_one_day_per_query(seeded: Seeded, cli: RunCli) -> None:
    ran = cli("--role", "admin", "usage", "--all-users", "--by", "user", "--json")
    assert ran.code == 0, ran.err
    report = ran.json()
    assert_report(report, seeded.jobs, "user")
    assert {g["key"] for g in report["groups"]} == {"dev-developer", "carol", "dave"}
    since, until = (datetime.fromisoformat(report[t]).timestamp() for t in ("since", "until"))
    assert report["storage_queries"] == days_walked(since, until)  # each day: one Query


def test_an_admin_groups_everyone_by_backend(seeded: Seeded) -> None:
    with client(seeded, Role.ADMIN) as admin:
        report = admin.usage(timedelta(days=7), by="backend", all_users=True)
    assert_report(report.to_json(), seeded.jobs, "backend")


# --- refusals ----------------------------------------------------------------------------


def test_all_users_is_refused_for_a_developer(seeded: Seeded, cli: RunCli) -> None:
    with client(seeded, Role.DEVELOPER) as developer, pytest.raises(PermissionDeniedError) as e:
        developer.usage(3600, all_users=True)
    assert "admin" in e.value.message

    ran = cli("usage", "--all-users")
    assert ran.code == 3 and "PERMISSION_DENIED" in ran.err and ran.out == ""


@pytest.mark.parametrize("since", ["soon", "0", "-3d", "7 days"])
def test_a_bad_since_is_one_line_and_exit_2(cli: RunCli, since: str) -> None:
    ran = cli("usage", f"--since={since}")
    assert ran.code == 2 and ran.out == ""
    assert ran.err.count("\n") == 1 and "--since" in ran.err


def test_by_user_needs_all_users_and_a_window_within_the_retention(
    seeded: Seeded, cli: RunCli
) -> None:
    ran = cli("usage", "--by", "user")
    assert ran.code == 2 and "all_users" in ran.err
    ran = cli("usage", "--by", "week")
    assert ran.code == 2 and "--by" in ran.err and ran.err.count("\n") == 1

    with client(seeded, Role.DEVELOPER) as developer, pytest.raises(InvalidArgumentError) as e:
        developer.usage(timedelta(days=45))
    assert "kept 30 days" in e.value.message
    with client(seeded, Role.DEVELOPER) as developer, pytest.raises(InvalidArgumentError):
        developer.usage(datetime.now(UTC) + timedelta(hours=1))
