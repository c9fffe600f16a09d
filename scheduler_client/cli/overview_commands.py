"""Commands about many jobs, backends and your role: list, service-status, limits."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from scheduler_client.cli import exit_codes
from scheduler_client.cli.connection import UsageError, client_from_args
from scheduler_client.cli.formatting import Output, jobs_table, service_text
from scheduler_client.job_info import JobStatus

AddCommand = Callable[[str, str], argparse.ArgumentParser]

DEFAULT_LIST_LIMIT = 20


def add_commands(command: AddCommand) -> None:
    listing = command("list", "list your jobs, newest first")
    listing.add_argument("--status", help="only jobs with this status, e.g. running")
    listing.add_argument("--backend", help="only jobs for this backend")
    listing.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIST_LIMIT,
        help=f"at most this many jobs (default {DEFAULT_LIST_LIMIT}; 0 = all)",
    )
    listing.add_argument("--all-users", action="store_true", help="everyone's jobs (admin only)")
    listing.set_defaults(run=run_list)

    service = command("service-status", "show whether a backend takes jobs, and its queue")
    service.add_argument("backend", metavar="BACKEND")
    service.set_defaults(run=run_service_status)

    limits = command("limits", "show your role's limits and how much of them your jobs use")
    limits.set_defaults(run=run_limits)


def run_list(args: argparse.Namespace, output: Output) -> int:
    if args.limit < 0:
        raise UsageError("--limit must be >= 0")
    try:
        status = JobStatus.parse(args.status) if args.status else None
    except ValueError as error:
        raise UsageError(f"--status: {error}") from None
    with client_from_args(args) as client:
        jobs = list(
            client.list_jobs(
                status,
                limit=args.limit or None,
                backend=args.backend,
                all_users=args.all_users,
            )
        )
    if output.json_mode:
        output.json([job.to_json() for job in jobs])
    elif not jobs:
        output.line("no jobs")
    else:
        for line in jobs_table(jobs):
            output.line(line)
    return exit_codes.OK


def run_service_status(args: argparse.Namespace, output: Output) -> int:
    with client_from_args(args) as client:
        status = client.service_status(args.backend)
    if output.json_mode:
        output.json(status.to_json())
    else:
        for line in service_text(status):
            output.line(line)
    return exit_codes.OK


def run_limits(args: argparse.Namespace, output: Output) -> int:
    with client_from_args(args) as client:
        limits = client.limits()
    if output.json_mode:
        output.json(limits.to_json())
    else:
        for line in limits.lines():
            output.line(line)
    return exit_codes.OK
