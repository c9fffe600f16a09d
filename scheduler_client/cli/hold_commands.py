"""`berth hold` and `berth release`: keep a job off every agent, then let it go."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from scheduler_client.cli import exit_codes
from scheduler_client.cli.connection import client_from_args
from scheduler_client.cli.formatting import Output, status_phrase
from scheduler_client.job import Job
from scheduler_client.job_info import JobInfo

AddCommand = Callable[[str, str], argparse.ArgumentParser]


def add_commands(command: AddCommand) -> None:
    hold = command(
        "hold", "keep a QUEUED or WAITING job off every agent (it leaves the line) until released"
    )
    hold.add_argument("job_id", metavar="ID")
    hold.set_defaults(run=lambda args, output: _run(args, output, Job.hold))

    release = command(
        "release",
        "queue a HELD job again (at the back of the line; WAITING if its dependencies have not "
        "ended)",
    )
    release.add_argument("job_id", metavar="ID")
    release.set_defaults(run=lambda args, output: _run(args, output, Job.release))


def _run(args: argparse.Namespace, output: Output, action: Callable[[Job], JobInfo]) -> int:
    with client_from_args(args) as client:
        info = action(client.job(args.job_id))
    if output.json_mode:
        output.json(info.to_json())
    else:
        output.line(f"job {info.job_id}: {status_phrase(info)}")
    return exit_codes.OK
