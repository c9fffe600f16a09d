"""`berth submit --array`, and `status`, `wait` and `cancel` given an array id."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TypedDict

from scheduler_client.cli import exit_codes
from scheduler_client.cli.connection import UsageError, client_from_args
from scheduler_client.cli.dependency_options import dependency_hints
from scheduler_client.cli.formatting import Output, jobs_table
from scheduler_client.dependencies import DependencyCondition
from scheduler_client.job_array import ArrayStatus
from scheduler_client.job_info import JobStatus


class SubmitSettings(TypedDict):
    """What `berth submit` passes alike to `Client.submit` and `Client.submit_array`."""

    format: str
    backend: str
    shots: int
    timeout: float
    parameters: dict[str, str]
    save_job: bool
    idempotency_key: str | None
    depends_on: list[str]
    condition: DependencyCondition


def add_submit_options(submit: argparse.ArgumentParser) -> None:
    submit.add_argument(
        "--array",
        metavar="PARAMS.jsonl",
        help="submit a job array: one job per line, each line a JSON object of parameters "
        "(merged over --param)",
    )
    submit.add_argument(
        "--max-running",
        type=int,
        default=0,
        metavar="K",
        help="with --array: at most K of the array's jobs run at once (default: no limit)",
    )


def read_parameter_sets(path: str) -> list[dict[str, str]]:
    """One JSON object per non-blank line; numbers and booleans become their JSON text."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UsageError(f"cannot read --array file {path}: {error.strerror}") from None
    sets: list[dict[str, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path} line {number}: not JSON ({error.msg})") from None
        if not isinstance(value, dict):
            raise UsageError(f"{path} line {number}: expected a JSON object of parameters")
        sets.append({str(k): _text(v, path, number) for k, v in value.items()})
    if not sets:
        raise UsageError(f"{path} holds no parameter sets (one JSON object per line)")
    return sets


def _text(value: object, path: str, number: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float) or value is None:
        return json.dumps(value)
    raise UsageError(f"{path} line {number}: parameter values must be strings, numbers or booleans")


def run_submit_array(
    args: argparse.Namespace, output: Output, program: bytes, settings: SubmitSettings
) -> int:
    if args.wait or args.output:
        raise UsageError("--wait/-o work on one job; with --array run `berth wait ARRAY_ID`")
    if args.max_running < 0:
        raise UsageError("--max-running must be 0 (no limit) or more")
    parameter_sets = read_parameter_sets(args.array)
    with client_from_args(args) as client, dependency_hints(settings["depends_on"]):
        submitted = client.submit_array(
            program, parameter_sets, **settings, max_running=args.max_running
        )
    if output.json_mode:
        output.json(submitted.to_json())
    else:
        output.line(submitted.array_id)
    return exit_codes.OK


def counts_line(status: ArrayStatus) -> str:
    counts = ", ".join(f"{n} {name}" for name, n in sorted(status.counts.items()))
    throttle = f", at most {status.max_running} running" if status.max_running else ""
    return f"array {status.array_id}: {len(status.jobs)} jobs ({counts}){throttle}"


def run_array_status(args: argparse.Namespace, output: Output) -> int:
    with client_from_args(args) as client:
        status = client.array_status(args.job_id)
    if output.json_mode:
        output.json(status.to_json())
    else:
        output.line(counts_line(status))
        for line in jobs_table(status.jobs):
            output.line(line)
    return exit_codes.OK


def run_array_wait(args: argparse.Namespace, output: Output) -> int:
    """Print the counts each time they change; exit 0 only if every job COMPLETED."""
    if args.output:
        raise UsageError("-o works on one job; fetch each job's result with `berth result ID`")
    with client_from_args(args) as client:
        last = None
        for status in client.watch_array(args.job_id, timeout=args.timeout):
            last = status
            if not output.json_mode:
                output.line(counts_line(status))
    assert last is not None
    if output.json_mode:
        output.json(last.to_json())
    completed = all(job.status is JobStatus.COMPLETED for job in last.jobs)
    return exit_codes.OK if completed else exit_codes.JOB_NOT_COMPLETED


def run_array_cancel(args: argparse.Namespace, output: Output) -> int:
    with client_from_args(args) as client:
        outcome = client.cancel_array(args.job_id)
    if output.json_mode:
        output.json(outcome.to_json())
    else:
        output.line(
            f"array {outcome.array_id}: {outcome.cancelled} cancelled, "
            f"{outcome.cancel_requested} asked to stop, {outcome.already_ended} already ended"
        )
    return exit_codes.OK
