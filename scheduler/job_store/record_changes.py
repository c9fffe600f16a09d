"""What claim and finish do to a job's record, for stores that derive it instead of reading it.

The DynamoDB store derives the record after its write from the one the
caller knew; the in-memory store derives it from the one it holds. One
definition keeps both equal to the contract and to each other.
"""

from __future__ import annotations

from dataclasses import fields, replace

from scheduler.domain.jobs import Completion, JobRecord, JobStatus

CLEARED_LEASE: dict[str, object] = {
    "lease_holder": "",
    "lease_credential": "",
    "lease_expires_at": 0.0,
}
# What a requeue clears: the lease, and its attempt's claim to be the one served.
RELEASED_ATTEMPT: dict[str, object] = {**CLEARED_LEASE, "result_attempt": 0}
# Every field of an agent's report has a record field of its name.
_REPORTED = tuple(f.name for f in fields(Completion))


def claimed(
    job: JobRecord, agent_id: str, credential: str, lease_expires_at: float, now: float
) -> JobRecord:
    return replace(
        job,
        status=JobStatus.RUNNING,
        lease_holder=agent_id,
        lease_credential=credential,
        lease_expires_at=lease_expires_at,
        dequeued_at=now,
        attempt=job.attempt + 1,
        result_attempt=job.attempt + 1,
        tried_agents=[*job.tried_agents, agent_id],
    )


def holds_lease(job: JobRecord, agent_id: str, credential: str) -> bool:
    """Whether `agent_id` under the token hashed `credential` holds the job's lease."""
    return (
        job.status is JobStatus.RUNNING
        and job.lease_holder == agent_id
        and job.lease_credential in ("", credential)
    )


def finished(job: JobRecord, completion: Completion, job_expiry: int) -> JobRecord:
    reported = {name: getattr(completion, name) for name in _REPORTED}
    return replace(job, job_expiry=job_expiry, **CLEARED_LEASE, **reported)  # type: ignore[arg-type]
