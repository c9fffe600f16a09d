"""Jobs as pages show them: plain strings and numbers, the same for HTML and live updates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scheduler_client.dependencies import DependencyCondition
from scheduler_client.job_info import JobInfo, JobStatus

# Statuses in the order a job passes through them, for counts and filters.
LIFECYCLE_ORDER = (
    JobStatus.WAITING,
    JobStatus.HELD,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.COMPLETED,
    JobStatus.FAILED,
    JobStatus.TIMEOUT,
    JobStatus.CANCELLED,
)
CONDITION_TEXT = {
    DependencyCondition.AFTER_OK: "once every one of these jobs has COMPLETED",
    DependencyCondition.AFTER_ANY: "once every one of these jobs has ended, however it ended",
    DependencyCondition.AFTER_NOT_OK: "as soon as one of these jobs ends other than COMPLETED",
}


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def time_text(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


# What HoldJob accepts; ReleaseJob takes a HELD job back to QUEUED (or WAITING).
HOLDABLE = frozenset({JobStatus.QUEUED, JobStatus.WAITING})


def job_row(job: JobInfo) -> dict[str, Any]:
    """One job's cells; also the JSON a live update sends (so both render alike)."""
    return {
        "job_id": job.job_id,
        "status": job.status.value,
        "terminal": job.status.terminal,
        "cancellable": not job.status.terminal and not job.cancel_requested,
        "cancel_requested": job.cancel_requested and not job.status.terminal,
        "queue_position": job.queue_position or "",
        "backend": job.backend,
        "submitted": time_text(job.times.submitted_at),
        "elapsed": duration_text(job.elapsed_s()),
        "detail": job.detail,
        "has_result": job.status is JobStatus.COMPLETED,
        "has_log": job.status.terminal and job.times.execution_started_at is not None,
        "owner_name": job.owner_name,
        "holdable": job.status in HOLDABLE,
        "releasable": job.status is JobStatus.HELD,
        "array_id": job.array_id,
        "array_index": job.array_index,
    }


@dataclass(frozen=True)
class Step:
    name: str
    at: str
    took: str  # the time from this step to the next one reached


def timeline(job: JobInfo) -> list[Step]:
    """queued -> assigned -> running -> ended, with the time each stage lasted."""
    t = job.times
    marks = [
        ("submitted", t.submitted_at),
        ("queued", t.queued_at),
        ("assigned to an agent", t.dequeued_at),
        ("running", t.execution_started_at),
        ("execution ended", t.execution_finished_at),
        (f"ended {job.status.value}" if job.status.terminal else "", t.finished_at),
    ]
    reached = [(name, at) for name, at in marks if name and at is not None]
    steps = []
    for index, (name, at) in enumerate(reached):
        following = reached[index + 1][1] if index + 1 < len(reached) else None
        if following is None and not job.status.terminal:
            following = datetime.now(UTC)
            took = duration_text((following - at).total_seconds()) + " so far"
        else:
            took = duration_text((following - at).total_seconds()) if following else ""
        steps.append(Step(name, time_text(at), took))
    return steps


def status_counts(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """An array's jobs per status, in lifecycle order; statuses this dashboard lacks last."""
    known = [(s.value, counts[s.value]) for s in LIFECYCLE_ORDER if counts.get(s.value)]
    order = {s.value for s in LIFECYCLE_ORDER}
    return known + sorted((name, n) for name, n in counts.items() if name not in order and n)


def array_parameters(jobs: Sequence[JobInfo]) -> tuple[dict[str, str], list[str]]:
    """The parameters every job shares (shown once) and the names whose values vary."""
    names = sorted({name for job in jobs for name in job.parameters})
    shared: dict[str, str] = {}
    varying = []
    for name in names:
        values = {job.parameters.get(name) for job in jobs}
        if len(values) == 1 and None not in values:
            shared[name] = jobs[0].parameters[name]
        else:
            varying.append(name)
    return shared, varying
