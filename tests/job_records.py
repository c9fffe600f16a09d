"""Job records and completions for store tests: realistic values, every field set."""

from __future__ import annotations

import itertools
import uuid

from scheduler.domain.jobs import Completion, JobRecord, JobStatus, Role

NOW = 1_750_000_000.25  # 2025-06-15 15:06:40 UTC
DAY = 86_400.0
ALICE = "a" * 64
BOB = "b" * 64
_ids = itertools.count()


def new_job(
    *,
    owner: str = ALICE,
    backend: str = "qpu",
    submitted_at: float = NOW,
    queued_at: float | None = None,
    parameters: dict[str, str] | None = None,
) -> JobRecord:
    return JobRecord(
        job_id=f"job-{next(_ids):04d}-{uuid.uuid4().hex[:6]}",
        owner=owner,
        owner_name="alice" if owner == ALICE else "bob",
        role=Role.DEVELOPER,
        backend=backend,
        status=JobStatus.QUEUED,
        format="qasm3",
        n_shots=1000,
        timeout_s=90.5,
        parameters={"optimisation": "2"} if parameters is None else parameters,
        size_bytes=321,
        payload_bytes=200,
        save_job=True,
        submitted_at=submitted_at,
        queued_at=submitted_at if queued_at is None else queued_at,
        burst=1.75,
        job_expiry=int(submitted_at + 30 * DAY),
        scheduler_version="0.1.0",
        idempotency_key="key-1",
    )


def completion(status: JobStatus = JobStatus.COMPLETED) -> Completion:
    return Completion(
        status=status,
        detail="ok" if status is JobStatus.COMPLETED else "it broke",
        result_raw_bytes=2048,
        result_encoded_bytes=512,
        log_bytes=64,
        dequeued_at=NOW + 1,
        execution_started_at=NOW + 1.5,
        execution_finished_at=NOW + 9.125,
        finished_at=NOW + 9.5,
        actual_backend="qpu-2",
        agent_version="agent 0.1.0",
        runner_version="runner 3",
    )
