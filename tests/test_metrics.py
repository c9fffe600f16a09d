"""Prometheus metrics as an operator sees them: scraped over HTTP after a scripted run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc
import pytest
import requests
from berth.scheduler.v1 import submission_pb2
from prometheus_client.parser import text_string_to_metric_families

from scheduler.config import ConfigError, load_config
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, eventually, rpc_error

SUBMISSION = "berth.scheduler.v1.SubmissionService"
EXECUTION = "berth.scheduler.v1.ExecutionService"
MakeSystem = Callable[..., BerthSystem]


@dataclass(frozen=True)
class Scrape:
    text: str
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))

    def rpcs(self, service: str, method: str, code: str) -> float | None:
        labels = {"grpc_service": service, "grpc_method": method, "grpc_code": code}
        return self.value("berth_grpc_server_handled_total", **labels)


def scrape(system: BerthSystem) -> Scrape:
    app = system.stack.app
    assert app is not None and app.metrics_server is not None, "metrics are off"
    response = requests.get(f"http://127.0.0.1:{app.metrics_server.port}/metrics", timeout=10)
    response.raise_for_status()
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return Scrape(response.text, samples)


def test_a_scripted_run_shows_in_the_scraped_metrics(make_berth_system: MakeSystem) -> None:
    system = make_berth_system(metrics_port=0)
    bogus_token = "berth-not-a-real-token-0123456789"
    with clients(system) as (submission, execution):
        submitter = Submitter(submission, system.tokens["developer"])
        job_ids = [submitter.submit() for _ in range(3)]
        agent = Agent(execution, system.tokens["executor"], agent_id="gpu-host-1")
        done = [agent.run(b"counts: {0: 50, 1: 50}") for _ in range(2)]
        refused = rpc_error(lambda: Submitter(submission, bogus_token).submit())
        assert refused.code() is grpc.StatusCode.UNAUTHENTICATED
        # A server stream that ends by itself is counted once it has ended.
        watched = list(
            submitter.stub.WatchJob(
                submission_pb2.WatchJobRequest(job_id=done[0]),
                metadata=submitter.metadata,
                timeout=10,
            )
        )
        assert watched

    metrics = scrape(system)
    jobs = {
        status: metrics.value("berth_jobs_total", status=status, backend="emulator")
        for status in ("QUEUED", "RUNNING", "COMPLETED")
    }
    assert jobs == {"QUEUED": 3, "RUNNING": 2, "COMPLETED": 2}
    assert metrics.value("berth_queue_length", backend="emulator") == 1
    assert metrics.value("berth_queue_length", backend="qpu") == 0, "known backends show 0"
    queued_bytes = metrics.value("berth_queue_bytes", backend="emulator")
    assert queued_bytes is not None and queued_bytes > 0
    assert metrics.value("berth_jobs_running", backend="emulator") == 0
    assert metrics.value("berth_dispatch_latency_seconds_count", backend="emulator") == 2
    assert metrics.value("berth_agents_seen", backend="emulator") == 1

    assert metrics.rpcs(SUBMISSION, "SubmitJob", "OK") == 3
    assert metrics.rpcs(SUBMISSION, "SubmitJob", "UNAUTHENTICATED") == 1
    assert metrics.rpcs(SUBMISSION, "WatchJob", "OK") == 1
    assert metrics.rpcs(EXECUTION, "AssignNextJob", "OK") == 2
    assert metrics.rpcs(EXECUTION, "ReportExecutionResult", "OK") == 2
    latency = metrics.value(
        "berth_grpc_server_handling_seconds_count",
        grpc_service=SUBMISSION,
        grpc_method="SubmitJob",
        grpc_code="UNAUTHENTICATED",
    )
    assert latency == 1

    # Three tokens were asked about once each (developer, executor, the bogus one);
    # every later call of a known token was answered from the cache.
    assert metrics.value("berth_token_cache_lookups_total", result="miss") == 3
    assert metrics.value("berth_token_cache_lookups_total", result="hit") == 6

    for secret in (*system.tokens.values(), bogus_token):
        assert secret not in metrics.text
    assert job_ids[2] not in metrics.text, "job ids are not labels"


def test_a_cancelled_stream_is_counted_as_cancelled(make_berth_system: MakeSystem) -> None:
    system = make_berth_system(metrics_port=0)
    with clients(system) as (submission, _):
        submitter = Submitter(submission, system.tokens["developer"])
        job_id = submitter.submit()
        stream = submitter.stub.WatchJob(
            submission_pb2.WatchJobRequest(job_id=job_id), metadata=submitter.metadata, timeout=30
        )
        first = next(iter(stream))
        assert first.job_id == job_id  # the watch is open and waiting for changes
        stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
    eventually(
        lambda: scrape(system).rpcs(SUBMISSION, "WatchJob", "CANCELLED") == 1,
        what="the cancelled WatchJob to be counted",
    )


def test_lease_expiries_and_requeues_are_counted(make_berth_system: MakeSystem) -> None:
    system = make_berth_system(metrics_port=0, lease_seconds=1.0)
    with clients(system) as (submission, execution):
        submitter = Submitter(submission, system.tokens["developer"])
        job_id = submitter.submit()
        lost = Agent(execution, system.tokens["executor"], agent_id="vanishing-agent")
        assigned = lost.assign()
        assert assigned is not None and assigned.job_id == job_id
        # The agent never heartbeats: the lease monitor requeues the job.
        eventually(
            lambda: (
                scrape(system).value(
                    "berth_lease_expiries_total", backend="emulator", outcome="requeued"
                )
                == 1
            ),
            what="the lease expiry to be counted",
        )
    metrics = scrape(system)
    assert metrics.value("berth_jobs_total", status="QUEUED", backend="emulator") == 2
    assert metrics.value("berth_jobs_running", backend="emulator") == 0
    assert metrics.value("berth_queue_length", backend="emulator") == 1


def test_each_scheduler_has_its_own_registry(make_berth_system: MakeSystem) -> None:
    """Two schedulers in one process, and a restart: no collisions, no carried-over counts."""
    first = make_berth_system(metrics_port=0)
    second = make_berth_system(metrics_port=0)
    with clients(first) as (submission, _):
        Submitter(submission, first.tokens["developer"]).submit()
    assert scrape(first).value("berth_jobs_total", status="QUEUED", backend="emulator") == 1
    assert scrape(second).value("berth_jobs_total", status="QUEUED", backend="emulator") is None

    first.restart()
    metrics = scrape(first)
    assert metrics.value("berth_queue_length", backend="emulator") == 1, "restored from the table"
    assert metrics.value("berth_jobs_total", status="QUEUED", backend="emulator") is None, (
        "a restored job did not reach QUEUED again"
    )


def test_metrics_port_flag_and_variable() -> None:
    assert load_config([], env={}).metrics_port == 9464
    assert load_config(["--metrics-port", "0"], env={}).metrics_port == 0
    assert load_config([], env={"SCHEDULER_METRICS_PORT": "-1"}).metrics_port == -1
    with pytest.raises(ConfigError, match="--metrics-port"):
        load_config(["--metrics-port", "-5"], env={})
    with pytest.raises(ConfigError, match="SCHEDULER_METRICS_PORT"):
        load_config([], env={"SCHEDULER_METRICS_PORT": "prometheus"})
