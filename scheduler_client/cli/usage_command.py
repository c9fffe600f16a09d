"""`berth usage`: jobs per outcome, run and queue times, bytes, over a recent window."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from berth_common.times import format_duration, parse_duration
from scheduler_client.cli import exit_codes
from scheduler_client.cli.connection import UsageError, client_from_args
from scheduler_client.cli.formatting import Output, table
from scheduler_client.usage_report import UsageFigures, UsageGrouping, UsageReport

DEFAULT_SINCE = "7d"
_ENDED = ("COMPLETED", "FAILED", "TIMEOUT", "CANCELLED")


def add_command(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    usage = command("usage", "your jobs' outcomes, run and queue times and bytes, per group")
    usage.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        metavar="DURATION",
        help=f"jobs submitted this long ago or later, e.g. 12h, 30d (default {DEFAULT_SINCE})",
    )
    usage.add_argument(
        "--by",
        default=UsageGrouping.TOTAL.value,
        metavar="GROUP",
        help="one row per backend, day (UTC) or user (user: with --all-users); default total",
    )
    usage.add_argument("--all-users", action="store_true", help="everyone's jobs (admin only)")
    usage.set_defaults(run=run_usage)


def run_usage(args: argparse.Namespace, output: Output) -> int:
    try:
        since_s = parse_duration(args.since)
    except ValueError as error:
        raise UsageError(f"--since: {error}") from None
    try:
        grouping = UsageGrouping(args.by.lower())
    except ValueError:
        choices = ", ".join(g.value for g in UsageGrouping)
        raise UsageError(f"--by: unknown group {args.by!r}; use one of {choices}") from None
    with client_from_args(args) as client:
        report = client.usage(since_s, by=grouping, all_users=args.all_users)
    if output.json_mode:
        output.json(report.to_json())
    else:
        for line in usage_text(report, args.since):
            output.line(line)
    return exit_codes.OK


def usage_text(report: UsageReport, since_text: str) -> list[str]:
    whose = "everyone's jobs" if report.all_users else "your jobs"
    head = (
        f"{whose} submitted since {report.since:%Y-%m-%d %H:%M} UTC ({since_text}); "
        f"read in {report.storage_queries} storage queries"
    )
    rows = [*report.groups, report.total] if report.groups else [report.total]
    headers = ("", "JOBS", *_ENDED, "ACTIVE", "RUN TOTAL", "RUN P50/P95", "QUEUE P50/P95")
    return [head, *table((*headers, "IN", "OUT"), (_row(f) for f in rows))]


def _row(f: UsageFigures) -> list[str]:
    active = f.jobs - sum(f.jobs_by_status.get(status, 0) for status in _ENDED)
    return [
        f.key or "total",
        str(f.jobs),
        *(str(f.jobs_by_status.get(status, 0)) for status in _ENDED),
        str(active),
        format_duration(f.run_time_total_s),
        _pair(f.runs, f.run_time_p50_s, f.run_time_p95_s),
        _pair(f.dequeued, f.queue_time_p50_s, f.queue_time_p95_s),
        _bytes(f.bytes_in),
        _bytes(f.bytes_out),
    ]


def _pair(count: int, p50: float, p95: float) -> str:
    return f"{format_duration(p50)}/{format_duration(p95)}" if count else "-"


def _bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
