"""`python -m scheduler admin ...`: the operator's commands, with the client CLI's exit codes.

Connection options are accepted before and after the command name, as in
`python -m scheduler_client` (defined on the main parser with defaults and
on each sub-parser with SUPPRESS).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from scheduler.admin import reports
from scheduler.admin.admin_client import AVAILABILITIES, AdminClient
from scheduler_client.cli import exit_codes
from scheduler_client.cli.connection import UsageError, add_connection_options, tls_from_args
from scheduler_client.cli.formatting import Output
from scheduler_client.cli.main import run_cli
from scheduler_client.errors import NoTokenError
from scheduler_client.token_source import read_token_file

TOKEN_ENV = "BERTH_ADMIN_TOKEN"
ROLES = ("admin", "developer", "guest", "executor")


def _add_connection(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    add_connection_options(
        parser,
        suppress=suppress,
        token_help=f"admin token (else ${TOKEN_ENV})",
        token_file_help="file with the admin token, or the dev-tokens JSON (its `admin` entry)",
        role_help=None,  # --role belongs to set-backend here
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler admin",
        description="Operator commands against a running scheduler; they need an admin token.",
        epilog=exit_codes.HELP_TEXT,
    )
    _add_connection(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, run: Callable[..., int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_text, description=help_text, epilog=exit_codes.HELP_TEXT
        )
        _add_connection(sub, suppress=True)
        sub.set_defaults(run=run)
        return sub

    queue = command(
        "queue", "queued jobs in the order agents get them, with priority terms", run_queue
    )
    queue.add_argument("--backend", default="", help="only this backend's queue (default: all)")
    queue.add_argument(
        "--limit", type=int, default=0, help="the first N jobs of each queue (default 1000)"
    )
    requeue = command(
        "requeue", "put a RUNNING job back in the queue now (its agent loses it)", run_requeue
    )
    requeue.add_argument("job_id", metavar="JOB")
    fail = command("fail", "end a QUEUED, HELD, WAITING or RUNNING job as FAILED", run_fail)
    fail.add_argument("job_id", metavar="JOB")
    fail.add_argument("--reason", required=True, help="shown to the job's owner as its detail")
    backend = command(
        "set-backend", "set a backend's availability in the backend status parameter", run_set
    )
    backend.add_argument("backend", metavar="BACKEND")
    backend.add_argument("--status", required=True, choices=sorted(AVAILABILITIES))
    backend.add_argument(
        "--role", default="", choices=ROLES, help="only this role (default: every listed role)"
    )
    backend.add_argument(
        "--description",
        default=None,
        help="shown to users who are refused (default: keep the current text; '' clears it)",
    )
    backend.add_argument("--add", action="store_true", help="add a backend not yet listed")
    for name, text in (
        ("hold", "hold every QUEUED or WAITING job of a user or a backend (no agent gets them)"),
        ("release", "release every HELD job of a user or a backend (they queue again)"),
    ):
        bulk = command(name, text, run_hold)
        bulk.add_argument("--owner", default="", metavar="NAME", help="the user's token name")
        bulk.add_argument("--backend", default="", help="only this backend's jobs")
    return parser


def admin_token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    if args.token_file:
        return read_token_file(Path(args.token_file), "admin")
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env
    raise NoTokenError(
        f"no admin token: pass --token or --token-file, or set {TOKEN_ENV} "
        "(for `python -m scheduler --dev`, --token-file .berth/dev-tokens.json)"
    )


def _client(args: argparse.Namespace) -> AdminClient:
    return AdminClient(args.address, admin_token(args), tls_from_args(args))


def _print(output: Output, document: object, lines: Iterable[str]) -> int:
    if output.json_mode:
        output.json(document)
    else:
        for line in lines:
            output.line(line)
    return exit_codes.OK


def run_queue(args: argparse.Namespace, output: Output) -> int:
    if args.limit < 0:
        raise UsageError("--limit must be >= 0")
    with _client(args) as client:
        listing = client.list_queue(args.backend, args.limit)
    return _print(output, reports.queue_json(listing), reports.queue_lines(listing, args.backend))


def run_requeue(args: argparse.Namespace, output: Output) -> int:
    with _client(args) as client:
        response = client.requeue_job(args.job_id)
    return _print(output, reports.job_outcome_json(response), [reports.requeue_line(response)])


def run_fail(args: argparse.Namespace, output: Output) -> int:
    with _client(args) as client:
        response = client.fail_job(args.job_id, args.reason)
    return _print(output, reports.job_outcome_json(response), [reports.fail_line(response)])


def run_set(args: argparse.Namespace, output: Output) -> int:
    with _client(args) as client:
        response = client.set_backend_status(
            args.backend,
            args.status,
            role=args.role,
            description=args.description,
            add_backend=args.add,
        )
    return _print(output, reports.backend_json(response), reports.backend_lines(response))


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


def run_hold(args: argparse.Namespace, output: Output) -> int:
    if not args.owner and not args.backend:
        raise UsageError(f"{args.command} needs --owner NAME, --backend B, or both")
    release = args.command == "release"
    with _client(args) as client:
        response = client.hold_jobs(owner_name=args.owner, backend=args.backend, release=release)
    document = {"job_ids": list(response.job_ids), "skipped": response.skipped}
    verb = "released" if release else "held"
    line = f"{verb} {len(response.job_ids)} jobs"
    if response.skipped:
        line += f" ({response.skipped} changed state meanwhile and were left as they are)"
    return _print(output, document, [line, *response.job_ids])
