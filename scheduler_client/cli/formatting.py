"""What the commands print: one JSON document with --json, short human text otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from berth_common.times import format_duration
from scheduler_client.errors import BerthError, BerthRpcError
from scheduler_client.job_info import CancelOutcome, JobInfo, JobStatus
from scheduler_client.service_status import ServiceStatus


class Output:
    """Where a command writes: stdout for its answer, stderr for errors."""

    def __init__(self, json_mode: bool, out: TextIO | None = None, err: TextIO | None = None):
        self.json_mode = json_mode
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def binary(self, data: bytes) -> None:
        """Raw bytes to stdout (a result), through the binary buffer when there is one."""
        self.out.flush()
        buffer = getattr(self.out, "buffer", None)
        if buffer is None:
            self.out.write(data.decode("utf-8", errors="replace"))
        else:
            buffer.write(data)
            buffer.flush()

    def json(self, document: Any) -> None:
        print(json.dumps(document, indent=2, sort_keys=True), file=self.out, flush=True)

    def error(self, error: BerthError | str, exit_code: int) -> None:
        message = str(error)
        code = "ERROR"
        if isinstance(error, BerthRpcError):
            code, message = error.code.name, error.message
        elif isinstance(error, BerthError):
            code = type(error).__name__
        print(f"berth: {code}: {message}", file=self.err, flush=True)
        if self.json_mode:
            self.json({"error": {"code": code, "message": message, "exit_code": exit_code}})


def _time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# A status line names at most this many of the jobs a job depends on (--json has all).
SHOWN_DEPENDENCIES = 5


def status_phrase(info: JobInfo) -> str:
    """ "QUEUED (position 3)", "RUNNING (cancel requested)", "FAILED: <detail>",
    "WAITING: waiting for 2 of 3 jobs: ..." (the scheduler's detail says for what)."""
    text = info.status.value
    if info.status is JobStatus.QUEUED and info.queue_position:
        text += f" (position {info.queue_position})"
    if info.status is JobStatus.WAITING and not info.detail and info.condition:
        text += f" ({info.condition} on {len(info.dependencies)} jobs)"
    if info.cancel_requested and not info.status.terminal:
        text += " (cancel requested)"
    if info.detail and info.status is not JobStatus.COMPLETED:
        text += f": {info.detail}"
    return text


def dependencies_text(info: JobInfo) -> str:
    """ "afterok: ID, ID" with the first few ids, then how many more."""
    shown = ", ".join(info.dependencies[:SHOWN_DEPENDENCIES])
    more = len(info.dependencies) - SHOWN_DEPENDENCIES
    rest = f" and {more} more (--json lists all)" if more > 0 else ""
    return f"{info.condition}: {shown}{rest}"


def elapsed_text(info: JobInfo) -> str:
    elapsed = info.elapsed_s()
    return format_duration(elapsed) if elapsed is not None else "-"


def progress_line(info: JobInfo) -> str:
    return f"job {info.job_id}: {status_phrase(info)}, elapsed {elapsed_text(info)}"


def job_details(info: JobInfo) -> list[str]:
    rows = [
        ("job", info.job_id),
        ("status", status_phrase(info)),
        (
            "backend",
            info.backend
            + (
                f" (ran on {info.actual_backend})"
                if info.actual_backend and info.actual_backend != info.backend
                else ""
            ),
        ),
        (
            "program",
            f"{info.format}, {info.n_shots} shots, timeout "
            f"{format_duration(info.timeout_s)}, {info.input_bytes} bytes",
        ),
    ]
    if info.array_id:
        rows.append(("array", f"{info.array_id}, index {info.array_index}"))
    if info.dependencies:
        rows.append(("depends on", dependencies_text(info)))
    rows += [
        ("submitted", _time(info.times.submitted_at)),
        ("started", _time(info.times.execution_started_at)),
        ("finished", _time(info.times.finished_at)),
        ("elapsed", elapsed_text(info)),
    ]
    if info.attempt > 1:
        rows.append(("attempt", str(info.attempt)))
    rows.extend(
        (
            "attempts" if attempt is info.attempts[0] else "",
            f"{attempt.number}. {attempt.agent_id} {_time(attempt.started_at)} .. "
            f"{_time(attempt.ended_at)} {attempt.outcome}",
        )
        for attempt in info.attempts
    )
    if info.parameters:
        rows.append(
            ("parameters", ", ".join(f"{k}={v}" for k, v in sorted(info.parameters.items())))
        )
    if info.status is JobStatus.COMPLETED:
        rows.append(("result", f"{info.result_raw_bytes} bytes"))
    width = max(len(name) for name, _ in rows)
    return [f"{name:<{width}}  {value}" for name, value in rows]


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    materialised = [list(row) for row in rows]
    widths = [len(h) for h in headers]
    for row in materialised:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [render(headers), *(render(row) for row in materialised)]


def jobs_table(jobs: Sequence[JobInfo]) -> list[str]:
    headers = ("JOB ID", "STATUS", "BACKEND", "FORMAT", "SUBMITTED", "ELAPSED")
    return table(
        headers,
        (
            (
                j.job_id,
                j.status.value,
                j.backend,
                j.format,
                _time(j.times.submitted_at),
                elapsed_text(j),
            )
            for j in jobs
        ),
    )


def cancel_text(outcome: CancelOutcome) -> str:
    if outcome.status is JobStatus.CANCELLED:
        return f"job {outcome.job_id} cancelled"
    return (
        f"cancel requested for job {outcome.job_id}: it is {outcome.status.value} and ends "
        "CANCELLED when its agent stops"
    )


def service_text(status: ServiceStatus) -> list[str]:
    head = f"{status.backend}: {status.availability.value}"
    if status.description:
        head += f" ({status.description})"
    return [
        head,
        f"queue length: {status.queue_length}",
        f"max job timeout for your role: {format_duration(status.role_max_timeout_s)}",
        "scheduler: serving"
        if status.serving
        else "scheduler: NOT serving (its token database does not answer: new tokens fail)",
    ]
