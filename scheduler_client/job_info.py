"""A job's state as the client presents it: plain Python values, no protobuf."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from berth.scheduler.v1 import job_pb2, submission_pb2
from google.protobuf import timestamp_pb2

from berth_common.times import seconds_of
from scheduler_client.dependencies import DependencyCondition


class JobStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"
    HELD = "HELD"  # not dispatched until released (`berth release`)
    WAITING = "WAITING"  # for the jobs it depends on; queued once its condition holds
    UNKNOWN = "UNKNOWN"  # a status this client does not know yet

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    def to_pb(self) -> job_pb2.JobStatus.ValueType:
        return job_pb2.JobStatus.Value(f"JOB_STATUS_{self.value}")

    @classmethod
    def from_pb(cls, value: int) -> JobStatus:
        known = {int(v): name for name, v in job_pb2.JobStatus.items()}
        name = known.get(value, "")
        try:
            return cls(name.removeprefix("JOB_STATUS_"))
        except ValueError:
            return cls.UNKNOWN

    @classmethod
    def parse(cls, text: str) -> JobStatus:
        """Case-insensitive, for command lines: "completed" -> COMPLETED."""
        try:
            status = cls(text.strip().upper())
        except ValueError:
            status = cls.UNKNOWN
        if status is cls.UNKNOWN:
            known = ", ".join(s.value for s in cls if s is not cls.UNKNOWN)
            raise ValueError(f"unknown status {text!r} (one of {known})")
        return status


TERMINAL_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.CANCELLED}
)


def _time(stamp: timestamp_pb2.Timestamp) -> datetime | None:
    if stamp.seconds == 0 and stamp.nanos == 0:
        return None
    return stamp.ToDatetime(tzinfo=UTC)


@dataclass(frozen=True)
class JobTimes:
    submitted_at: datetime | None = None
    queued_at: datetime | None = None
    dequeued_at: datetime | None = None
    execution_started_at: datetime | None = None
    execution_finished_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class Attempt:
    """One run of a job on one agent; `outcome` RUNNING while it runs."""

    number: int
    agent_id: str
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "agent_id": self.agent_id,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class JobInfo:
    job_id: str
    status: JobStatus
    detail: str = ""
    queue_position: int = 0
    backend: str = ""
    actual_backend: str = ""
    format: str = ""
    n_shots: int = 0
    timeout_s: float = 0.0
    attempt: int = 0
    cancel_requested: bool = False
    times: JobTimes = field(default_factory=JobTimes)
    versions: dict[str, str] = field(default_factory=dict)
    input_bytes: int = 0
    result_raw_bytes: int = 0
    result_encoded_bytes: int = 0
    owner_name: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    attempts: tuple[Attempt, ...] = ()
    max_attempts: int = 0  # as submitted; 0: the scheduler's maximum
    retry_on_failure: bool = False
    dependencies: tuple[str, ...] = ()  # the job ids it was submitted to wait for
    condition: DependencyCondition | None = None  # None: no dependencies
    array_id: str = ""  # the job array it belongs to; "" for a single job
    array_index: int = 0  # its place in that array, 0-based

    @classmethod
    def from_pb(cls, info: submission_pb2.JobInfo) -> JobInfo:
        t = info.timestamps
        v = info.versions
        return cls(
            job_id=info.job_id,
            status=JobStatus.from_pb(info.status),
            detail=info.detail,
            queue_position=info.queue_position,
            backend=info.backend,
            actual_backend=info.actual_backend,
            format=info.format,
            n_shots=info.n_shots,
            timeout_s=seconds_of(info.timeout),
            attempt=info.attempt,
            cancel_requested=info.cancel_requested,
            times=JobTimes(
                submitted_at=_time(t.submitted_at),
                queued_at=_time(t.queued_at),
                dequeued_at=_time(t.dequeued_at),
                execution_started_at=_time(t.execution_started_at),
                execution_finished_at=_time(t.execution_finished_at),
                finished_at=_time(t.finished_at),
            ),
            versions={
                key: value
                for key, value in (
                    ("scheduler", v.scheduler),
                    ("agent", v.agent),
                    ("runner", v.runner),
                )
                if value
            },
            input_bytes=info.input_bytes,
            result_raw_bytes=info.result_raw_bytes,
            result_encoded_bytes=info.result_encoded_bytes,
            owner_name=info.owner_name,
            parameters=dict(info.parameters),
            attempts=tuple(
                Attempt(a.number, a.agent_id, _time(a.started_at), _time(a.ended_at), a.outcome)
                for a in info.attempts
            ),
            max_attempts=info.max_attempts,
            retry_on_failure=info.retry_on_failure,
            dependencies=tuple(info.dependencies.job_ids),
            condition=(
                DependencyCondition.from_pb(info.dependencies.condition)
                if info.dependencies.job_ids
                else None
            ),
            array_id=info.array_id,
            array_index=info.array_index,
        )

    def elapsed_s(self, now: datetime | None = None) -> float | None:
        """Seconds since submission, frozen at the end once the job is terminal."""
        start = self.times.submitted_at
        if start is None:
            return None
        end = self.times.finished_at if self.status.terminal else None
        end = end or now or datetime.now(UTC)
        return max(0.0, (end - start).total_seconds())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the shape `--json` prints and scripts rely on."""
        times = {
            name: (value.isoformat() if value is not None else None)
            for name, value in vars(self.times).items()
        }
        return {
            "job_id": self.job_id,
            "status": self.status.value,
            "detail": self.detail,
            "queue_position": self.queue_position,
            "backend": self.backend,
            "actual_backend": self.actual_backend,
            "format": self.format,
            "n_shots": self.n_shots,
            "timeout_s": self.timeout_s,
            "attempt": self.attempt,
            "cancel_requested": self.cancel_requested,
            "timestamps": times,
            "versions": dict(self.versions),
            "input_bytes": self.input_bytes,
            "result_raw_bytes": self.result_raw_bytes,
            "result_encoded_bytes": self.result_encoded_bytes,
            "owner_name": self.owner_name,
            "parameters": dict(self.parameters),
            "attempts": [attempt.to_json() for attempt in self.attempts],
            "max_attempts": self.max_attempts,
            "retry_on_failure": self.retry_on_failure,
            "dependencies": list(self.dependencies),
            "condition": self.condition.value if self.condition else None,
            "array_id": self.array_id or None,
            "array_index": self.array_index if self.array_id else None,
        }


@dataclass(frozen=True)
class CancelOutcome:
    """CANCELLED at once for a queued job; RUNNING with cancel_requested for a running one."""

    job_id: str
    status: JobStatus
    cancel_requested: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status.value,
            "cancel_requested": self.cancel_requested,
        }


@dataclass(frozen=True)
class ResultLink:
    """Where a completed job's gzip result can be downloaded, and its sizes."""

    url: str
    expires_at: datetime | None
    raw_bytes: int
    encoded_bytes: int

    def __repr__(self) -> str:
        # The URL is a bearer credential until it expires: keep it out of logs.
        return f"ResultLink(expires_at={self.expires_at}, raw_bytes={self.raw_bytes})"
