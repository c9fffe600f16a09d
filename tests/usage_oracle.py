"""Usage figures by brute force: every job looked at once per figure, nothing folded.

The tests hold the scheduler's report against this, so it is written from
the documented definitions, not from the report's code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from scheduler.domain.jobs import JobRecord

KEY_OF: dict[str, Callable[[JobRecord], str]] = {
    "backend": lambda job: job.backend,
    "day": lambda job: datetime.fromtimestamp(job.submitted_at, UTC).strftime("%Y-%m-%d"),
    "user": lambda job: job.owner_name,
}


def percentile(values: Sequence[float], percent: int) -> float:
    """The smallest value that at least `percent` % of the values do not exceed."""
    n = len(values)
    return min((v for v in values if 100 * sum(x <= v for x in values) >= percent * n), default=0.0)


def figures(jobs: Sequence[JobRecord], key: str) -> dict[str, Any]:
    runs = [
        j.execution_finished_at - j.execution_started_at
        for j in jobs
        if j.execution_started_at > 0 and j.execution_finished_at > 0
    ]
    queued = [j.dequeued_at - j.queued_at for j in jobs if j.dequeued_at > 0]
    statuses = sorted({j.status.value for j in jobs})
    return {
        "key": key,
        "jobs": len(jobs),
        "jobs_by_status": {s: sum(j.status.value == s for j in jobs) for s in statuses},
        "runs": len(runs),
        "run_time_total_s": sum(runs),
        "run_time_p50_s": percentile(runs, 50),
        "run_time_p95_s": percentile(runs, 95),
        "dequeued": len(queued),
        "queue_time_p50_s": percentile(queued, 50),
        "queue_time_p95_s": percentile(queued, 95),
        "bytes_in": sum(j.size_bytes for j in jobs),
        "bytes_out": sum(j.result_encoded_bytes + j.log_bytes for j in jobs),
    }


def expected_usage(
    jobs: Sequence[JobRecord], since: float, by: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(total, groups sorted by key) over the jobs submitted at or after `since`."""
    window = [j for j in jobs if j.submitted_at >= since]
    if by == "total":
        return figures(window, ""), []
    key_of = KEY_OF[by]
    keys = sorted({key_of(j) for j in window})
    return figures(window, ""), [figures([j for j in window if key_of(j) == k], k) for k in keys]


def assert_same_figures(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Counts exactly; times to the nanosecond a protobuf Duration carries."""
    for name, value in expected.items():
        if isinstance(value, float):
            assert abs(actual[name] - value) < 1e-6, (expected["key"], name, actual[name], value)
        else:
            assert actual[name] == value, (expected["key"], name, actual[name], value)
