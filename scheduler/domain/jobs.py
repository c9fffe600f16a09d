"""Job records, statuses and roles: the vocabulary every layer shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"
    HELD = "HELD"  # queued, then held by its owner or an admin: not dispatched until released
    WAITING = "WAITING"  # for the jobs it depends on (dependencies.py): not queued yet

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.CANCELLED}
)


class Role(StrEnum):
    ADMIN = "admin"
    DEVELOPER = "developer"
    GUEST = "guest"
    EXECUTOR = "executor"


CLIENT_ROLES = (Role.ADMIN, Role.DEVELOPER, Role.GUEST)


@dataclass(frozen=True)
class Principal:
    """Who is calling: `owner` is the SHA-256 hex of the token, never the token."""

    owner: str
    name: str
    role: Role
    token_id: str  # short, non-secret; what logs show


@dataclass
class JobRecord:
    """One job as stored in the job table. Times are epoch seconds (float)."""

    job_id: str
    owner: str
    owner_name: str
    role: Role
    backend: str
    status: JobStatus
    format: str
    n_shots: int
    timeout_s: float
    parameters: dict[str, str]
    size_bytes: int  # the serialized submit request: what counts against limits
    payload_bytes: int
    save_job: bool
    submitted_at: float
    queued_at: float
    burst: float  # the owner's decayed submission count when submitted (fair share)
    job_expiry: int  # epoch seconds; DynamoDB TTL deletes the record after it
    scheduler_version: str
    idempotency_key: str = ""
    attempt: int = 0
    lease_holder: str = ""
    # The SHA-256 hex of the executor token that claimed the running attempt: only that
    # token may renew or end the lease. "" on a lease taken before leases were bound
    # to a credential (by an older version): any executor token naming the holder may.
    lease_credential: str = ""
    lease_expires_at: float = 0.0
    cancel_requested: bool = False
    # The attempt whose own result and log objects are this job's: set by the claim that
    # starts the attempt, cleared (0) by a requeue, kept by the transition that ends the
    # job; see `served_attempt`. 0 on records from before attempts had their own objects.
    result_attempt: int = 0
    tried_agents: list[str] = field(default_factory=list)
    detail: str = ""
    dequeued_at: float = 0.0
    execution_started_at: float = 0.0
    execution_finished_at: float = 0.0
    finished_at: float = 0.0
    actual_backend: str = ""
    agent_version: str = ""
    runner_version: str = ""
    result_raw_bytes: int = 0
    result_encoded_bytes: int = 0
    log_bytes: int = 0
    # A member of a job array (job_arrays.py): its array, place in it, the array's
    # size and throttle (0 = none). Fixed at submit; "" for a single job.
    array_id: str = ""
    array_index: int = 0
    array_size: int = 0
    array_max_running: int = 0
    max_attempts: int = 0  # the owner's limit on attempts; 0: SCHEDULER_MAX_ATTEMPTS
    retry_on_failure: bool = False  # a FAILED report requeues while attempts remain
    # The jobs it waits for and how they must end (dependencies.py: "afterok", "afterany",
    # "afternotok"; "" without any). Fixed at submit.
    depends_on: list[str] = field(default_factory=list)
    dependency: str = ""
    # Each earlier attempt that ended with the job queued again (attempts.py); the last
    # attempt is the record's own fields.
    attempt_log: list[str] = field(default_factory=list)
    # The input, when it is small enough to live in the record itself (one write at
    # submit, none at claim); None when it is in the blob store.
    inline_input: bytes | None = field(default=None, repr=False)


def served_attempt(job: JobRecord) -> int:
    """The attempt whose objects are the job's result and log (uploads go there too while it
    runs); 0 names the job-level objects, which jobs run by older versions use."""
    return job.result_attempt if job.result_attempt == job.attempt else 0


@dataclass(frozen=True)
class Completion:
    """What an agent reports when a job ends (see ReportExecutionResult)."""

    status: JobStatus  # COMPLETED | FAILED | TIMEOUT | CANCELLED
    detail: str
    result_raw_bytes: int
    result_encoded_bytes: int
    log_bytes: int
    dequeued_at: float
    execution_started_at: float
    execution_finished_at: float
    finished_at: float
    actual_backend: str
    agent_version: str
    runner_version: str


@dataclass(frozen=True)
class UploadTarget:
    url: str
    expires_at: float
    headers: dict[str, str]
    method: str = "PUT"


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: float


@dataclass(frozen=True)
class SubmitRequest:
    """A validated-at-the-edge submission; the job service checks the semantics."""

    format: str
    payload: bytes
    backend: str
    n_shots: int
    timeout_s: float
    parameters: dict[str, str]
    save_job: bool
    idempotency_key: str
    size_bytes: int  # the serialized request, as received
    max_attempts: int = 0
    retry_on_failure: bool = False
    depends_on: tuple[str, ...] = ()  # as JobRecord's
    dependency: str = ""


@dataclass(frozen=True)
class Assignment:
    """What an agent receives from AssignNextJob."""

    job: JobRecord
    payload: bytes
    result_upload: UploadTarget
    log_upload: UploadTarget
    lease_expires_at: float
    heartbeat_interval_s: float


@dataclass(frozen=True)
class JobView:
    """A job as its owner sees it: the record plus its live queue position."""

    job: JobRecord
    queue_position: int  # 1-based while QUEUED, 0 otherwise
