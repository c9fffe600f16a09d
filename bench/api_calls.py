"""AWS API calls per job lifecycle, counted with a botocore `before-call` hook.

The scheduler runs in this process for this phase only, because the hook must
sit on its boto3 session: every client the scheduler makes comes from
`make_boto3_session`, so the harness wraps that one function while the
scheduler starts. The presigned PUT (agent) and GET (client) go to S3 without
botocore; the harness makes them itself and counts them apart.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import requests

from bench.in_process import BACKEND, InProcessStack
from bench.measurements import Row, Usage, summarise
from bench.rpc_clients import CALL_TIMEOUT_S, Agent, Client
from bench.service_phases import SMALL_PAYLOAD
from scheduler.aws import aws_settings
from scheduler.domain.jobs import Role

PRESIGNED_PER_LIFECYCLE = {
    "S3.PutObject (presigned, agent)": 1,
    "S3.GetObject (presigned, client)": 1,
}


class CallCounter:
    """A botocore handler: one count per API call (retries are not separate calls)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_id}.{model.name}"
        with self._lock:
            self.counts[name] += 1

    def take(self) -> Counter[str]:
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts


@contextmanager
def counted_sessions(counter: CallCounter) -> Iterator[None]:
    """Sessions made inside the block carry the counter into every client made from them."""
    original = aws_settings.make_boto3_session

    def make(settings: aws_settings.AwsSettings) -> boto3.Session:
        session = original(settings)
        session.events.register("before-call", counter)
        return session

    aws_settings.make_boto3_session = make
    try:
        yield
    finally:
        aws_settings.make_boto3_session = original


@dataclass(frozen=True)
class LifecycleCalls:
    lifecycles: int
    per_lifecycle: dict[str, float]  # botocore calls by the scheduler, by "Service.Operation"
    presigned: dict[str, int]

    @property
    def total(self) -> float:
        return sum(self.per_lifecycle.values())


def lifecycle_calls(endpoint: str, lifecycles: int) -> tuple[LifecycleCalls, Row]:
    """submit → assign → PUT → report → GetJobResult → GET, one job at a time."""
    counter = CallCounter()
    stack = InProcessStack(endpoint)
    with counted_sessions(counter):
        stack.start()
    try:
        client = Client(stack.submission_address, stack.tokens[Role.ADMIN])
        agent = Agent(stack.execution_address, stack.tokens[Role.EXECUTOR], "count")
        try:
            _one_lifecycle(client, agent)  # warm: token verification, connections
            counter.take()
            latencies = []
            began = time.perf_counter()
            for _ in range(lifecycles):
                started = time.perf_counter()
                _one_lifecycle(client, agent)
                latencies.append(time.perf_counter() - started)
            wall = time.perf_counter() - began
            counts = counter.take()
        finally:
            client.close()
            agent.close()
    finally:
        stack.stop()
    calls = LifecycleCalls(
        lifecycles,
        {name: count / lifecycles for name, count in sorted(counts.items())},
        dict(PRESIGNED_PER_LIFECYCLE),
    )
    return calls, summarise("lifecycle (in-process)", latencies, wall, Usage())


def _one_lifecycle(client: Client, agent: Agent) -> None:
    job_id = client.submit(SMALL_PAYLOAD, BACKEND)
    assigned = agent.assign(BACKEND, wait_s=10.0)
    if assigned is None or assigned.job_id != job_id:
        raise RuntimeError(f"job {job_id} was not assigned to the counting agent")
    agent.complete(assigned)
    response = requests.get(client.result_url(job_id), timeout=CALL_TIMEOUT_S)
    response.raise_for_status()
