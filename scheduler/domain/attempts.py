"""A job's attempts, as its owner sees them: one line of the record per earlier attempt.

Only an attempt that ended with the job queued again is logged (a lost agent,
an admin's requeue, a failed run retried): the last attempt is the record's
own fields (its agent, claim time, end and status), so a job that runs once
stores nothing more. A logged attempt is one short tab-separated string.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.jobs import JobRecord, JobStatus

LOST_AGENT = "LOST_AGENT"
REQUEUED = "REQUEUED"
FAILED_RETRIED = "FAILED_RETRIED"


@dataclass(frozen=True)
class Attempt:
    number: int
    agent_id: str
    started_at: float
    ended_at: float  # 0 while it runs
    outcome: str  # a status, or one of the outcomes above


def log_entry(job: JobRecord, ended_at: float, outcome: str) -> str:
    """The log line for `job`'s current attempt (the record as it ran), ending now."""
    agent = job.tried_agents[-1] if job.tried_agents else job.lease_holder
    return f"{job.attempt}\t{agent}\t{job.dequeued_at!r}\t{ended_at!r}\t{outcome}"


def attempts_of(job: JobRecord) -> list[Attempt]:
    found = [_parse(line) for line in job.attempt_log]
    # The current attempt, while it runs or once it ended the job (a held or waiting job
    # whose last attempt was requeued has it logged already).
    if job.attempt > len(found) and (job.status is JobStatus.RUNNING or job.status.terminal):
        ended = job.status.terminal
        found.append(
            Attempt(
                number=job.attempt,
                agent_id=job.tried_agents[-1] if job.tried_agents else "",
                started_at=job.dequeued_at,
                ended_at=job.finished_at if ended else 0.0,
                outcome=job.status.value if ended else JobStatus.RUNNING.value,
            )
        )
    return found


def _parse(line: str) -> Attempt:
    number, agent, started, ended, outcome = line.split("\t")
    return Attempt(int(number), agent, float(started), float(ended), outcome)
