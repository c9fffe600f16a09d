"""Job arrays as the client presents them: `Client.submit_array` and `berth ... ARRAY`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from berth.scheduler.v1 import submission_pb2

from scheduler_client.job_info import JobInfo

ARRAY_PREFIX = "array-"  # how an array id differs from a job id


def is_array_id(value: str) -> bool:
    return value.startswith(ARRAY_PREFIX)


@dataclass(frozen=True)
class ArraySubmission:
    array_id: str
    job_ids: list[str]  # one per parameter set, in order

    def to_json(self) -> dict[str, Any]:
        return {"array_id": self.array_id, "job_ids": list(self.job_ids)}


@dataclass(frozen=True)
class ArrayStatus:
    array_id: str
    max_running: int  # 0: no throttle
    counts: dict[str, int]  # jobs per status, e.g. {"QUEUED": 3, "COMPLETED": 7}
    jobs: list[JobInfo]

    @classmethod
    def from_pb(cls, response: submission_pb2.GetJobArrayResponse) -> ArrayStatus:
        return cls(
            array_id=response.array_id,
            max_running=response.max_running,
            counts=dict(response.jobs_by_status),
            jobs=[JobInfo.from_pb(info) for info in response.jobs],
        )

    @property
    def finished(self) -> bool:
        """Every job of the array has ended."""
        return all(job.status.terminal for job in self.jobs)

    def to_json(self) -> dict[str, Any]:
        return {
            "array_id": self.array_id,
            "max_running": self.max_running,
            "size": len(self.jobs),
            "counts": dict(sorted(self.counts.items())),
            "jobs": [job.to_json() for job in self.jobs],
        }


@dataclass(frozen=True)
class ArrayCancelOutcome:
    array_id: str
    cancelled: int  # were queued
    cancel_requested: int  # were running: they end CANCELLED when their agents stop
    already_ended: int

    def to_json(self) -> dict[str, Any]:
        return {
            "array_id": self.array_id,
            "cancelled": self.cancelled,
            "cancel_requested": self.cancel_requested,
            "already_ended": self.already_ended,
        }
