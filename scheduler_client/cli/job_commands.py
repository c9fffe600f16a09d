"""Commands about one job: submit, status, wait, result, log, cancel."""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from scheduler_client.cli import array_commands, dependency_options, exit_codes
from scheduler_client.cli.connection import UsageError, client_from_args
from scheduler_client.cli.formatting import Output, cancel_text, job_details
from scheduler_client.cli.live_status import Progress
from scheduler_client.errors import FailedPreconditionError
from scheduler_client.job import Job
from scheduler_client.job_array import is_array_id
from scheduler_client.job_info import JobInfo, JobStatus

AddCommand = Callable[[str, str], argparse.ArgumentParser]

# Formats the scheduler's runners know, guessed from the file name when --format is absent.
FORMAT_FOR_SUFFIX = {".qasm": "qasm3", ".qasm3": "qasm3", ".whl": "python-wheel"}


def add_commands(command: AddCommand, duration: Callable[[str], float]) -> None:
    submit = command("submit", "submit a program file (- for stdin) and print its job id")
    submit.add_argument("file", metavar="FILE")
    submit.add_argument("--backend", required=True, help="backend to run on, e.g. emulator")
    submit.add_argument(
        "--format",
        help="program format (default from the file name: "
        + ", ".join(f"{s} -> {f}" for s, f in FORMAT_FOR_SUFFIX.items())
        + ")",
    )
    submit.add_argument("--shots", type=int, default=1000, help="number of shots (default 1000)")
    submit.add_argument(
        "--timeout", type=duration, default=60.0, help="run time limit, e.g. 60s, 5m (default 60s)"
    )
    submit.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="parameter (repeatable)"
    )
    submit.add_argument("--save-job", action="store_true", help="keep the job's input stored")
    submit.add_argument(
        "--idempotency-key", help="resubmitting with the same key returns the same job"
    )
    submit.add_argument(
        "--max-attempts",
        type=int,
        default=0,
        metavar="N",
        help="run at most N times (lost agents, and failures with --retry-on-failure); "
        "default and ceiling: the scheduler's SCHEDULER_MAX_ATTEMPTS",
    )
    submit.add_argument(
        "--retry-on-failure",
        action="store_true",
        help="queue the job again when a run fails, while attempts remain",
    )
    submit.add_argument("--wait", action="store_true", help="wait for the job to end")
    submit.add_argument(
        "--wait-timeout", type=duration, help="with --wait: give up waiting after this long"
    )
    submit.add_argument("-o", "--output", metavar="PATH", help="with --wait: save the result here")
    array_commands.add_submit_options(submit)
    dependency_options.add_submit_options(submit)
    submit.set_defaults(run=run_submit)

    status = command("status", "show a job's status (an array's: counts per status)")
    status.add_argument("job_id", metavar="ID")
    status.set_defaults(run=run_status)

    wait = command("wait", "wait until a job (or every job of an array) ends, showing progress")
    wait.add_argument("job_id", metavar="ID")
    wait.add_argument("--timeout", type=duration, help="give up waiting after this long")
    wait.add_argument("-o", "--output", metavar="PATH", help="save the result here if COMPLETED")
    wait.set_defaults(run=run_wait)

    result = command("result", "download a COMPLETED job's result (to stdout without -o)")
    result.add_argument("job_id", metavar="ID")
    result.add_argument("-o", "--output", metavar="PATH", help="write the result to this file")
    result.set_defaults(run=run_result)

    log = command("log", "print what an ended job's program wrote (to stdout without -o)")
    log.add_argument("job_id", metavar="ID")
    log.add_argument("-o", "--output", metavar="PATH", help="write the log to this file")
    log.add_argument(
        "--follow",
        action="store_true",
        help="if the job has not ended yet, wait for it to end (logs are stored then)",
    )
    log.set_defaults(run=run_log)

    cancel = command("cancel", "cancel a job, or every job of an array")
    cancel.add_argument("job_id", metavar="ID")
    cancel.set_defaults(run=run_cancel)


def _read_program(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror}") from None


def _format_for(name: str, given: str | None) -> str:
    if given:
        return given
    guessed = FORMAT_FOR_SUFFIX.get(Path(name).suffix.lower())
    if guessed is None:
        raise UsageError(f"cannot tell the format of {name} from its name; pass --format")
    return guessed


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param {pair!r}: expected KEY=VALUE")
        parameters[key] = value
    return parameters


def _save(data: bytes, path: str, output: Output) -> None:
    if path == "-":
        output.binary(data)
        return
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None


def _wait(job: Job, output: Output, timeout: float | None, progress_to: TextIO) -> JobInfo:
    """Wait for the job's end, showing its progress unless the output is JSON."""
    if output.json_mode:
        return job.wait(timeout)
    with Progress(progress_to) as progress:
        return job.wait(timeout, on_update=progress.update)


def _wait_and_report(
    job: Job, output: Output, timeout: float | None, result_path: str | None
) -> int:
    info = _wait(job, output, timeout, output.out)
    document = info.to_json()
    if info.status is JobStatus.COMPLETED and result_path:
        data = job.result()
        _save(data, result_path, output)
        document["result_file"] = result_path
        if not output.json_mode and result_path != "-":
            output.line(f"saved {len(data)} bytes to {result_path}")
    if output.json_mode:
        output.json(document)
    return exit_codes.OK if info.status is JobStatus.COMPLETED else exit_codes.JOB_NOT_COMPLETED


def run_submit(args: argparse.Namespace, output: Output) -> int:
    if args.output and not args.wait and not args.array:
        raise UsageError("-o/--output needs --wait (or run `result ID -o PATH` later)")
    if args.shots <= 0:
        raise UsageError("--shots must be positive")
    program = _read_program(args.file)
    after, condition = dependency_options.dependencies_from_args(args)
    settings = array_commands.SubmitSettings(
        format=_format_for(args.file, args.format),
        backend=args.backend,
        shots=args.shots,
        timeout=args.timeout,
        parameters=_parameters(args.param),
        save_job=args.save_job,
        idempotency_key=args.idempotency_key,
        depends_on=after,
        condition=condition,
    )
    if args.array:
        return array_commands.run_submit_array(args, output, program, settings)
    if args.max_running:
        raise UsageError("--max-running needs --array")
    with client_from_args(args) as client:
        with dependency_options.dependency_hints(after):
            job = client.submit(
                program,
                **settings,
                max_attempts=args.max_attempts,
                retry_on_failure=args.retry_on_failure,
            )
        if not args.wait:
            if output.json_mode:
                output.json(job.status().to_json())
            else:
                output.line(job.id)
            return exit_codes.OK
        if not output.json_mode:
            output.line(job.id)
        return _wait_and_report(job, output, args.wait_timeout, args.output)


def run_status(args: argparse.Namespace, output: Output) -> int:
    if is_array_id(args.job_id):
        return array_commands.run_array_status(args, output)
    with client_from_args(args) as client:
        info = client.job(args.job_id).status()
    if output.json_mode:
        output.json(info.to_json())
    else:
        for line in job_details(info):
            output.line(line)
    return exit_codes.OK


def run_wait(args: argparse.Namespace, output: Output) -> int:
    if is_array_id(args.job_id):
        return array_commands.run_array_wait(args, output)
    with client_from_args(args) as client:
        return _wait_and_report(client.job(args.job_id), output, args.timeout, args.output)


def run_result(args: argparse.Namespace, output: Output) -> int:
    with client_from_args(args) as client:
        data = client.job(args.job_id).result()
    return _deliver(args, output, data, "result")


def run_log(args: argparse.Namespace, output: Output) -> int:
    with client_from_args(args) as client:
        job = client.job(args.job_id)
        if args.follow:
            _wait(job, output, None, output.err)  # stdout is for the log itself
        try:
            data = job.log()
        except FailedPreconditionError as error:
            if args.follow or job.status().status.terminal:
                raise
            hint = f"{error.message} (add --follow to wait for it)"
            raise FailedPreconditionError(error.code, hint, error.method) from None
    return _deliver(args, output, data, "log")


def _deliver(args: argparse.Namespace, output: Output, data: bytes, what: str) -> int:
    """The downloaded bytes to -o PATH, or stdout; with --json a document saying where."""
    if args.output:
        _save(data, args.output, output)
    if output.json_mode:
        document: dict[str, object] = {
            "job_id": args.job_id,
            "bytes": len(data),
            "path": args.output,
        }
        if not args.output:
            document[f"{what}_base64"] = base64.b64encode(data).decode("ascii")
        output.json(document)
    elif args.output and args.output != "-":
        output.line(f"saved {len(data)} bytes to {args.output}")
    elif not args.output:
        output.binary(data)
    return exit_codes.OK


def run_cancel(args: argparse.Namespace, output: Output) -> int:
    if is_array_id(args.job_id):
        return array_commands.run_array_cancel(args, output)
    with client_from_args(args) as client:
        outcome = client.job(args.job_id).cancel()
    if output.json_mode:
        output.json(outcome.to_json())
    else:
        output.line(cancel_text(outcome))
    return exit_codes.OK
