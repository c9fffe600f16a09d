"""`berth submit --after/--condition`, and Slurm's `--dependency afterok:ID:ID`, read as one.

Both spellings become the same (job ids, condition) pair; array ids among the
job ids are left as they are for the client library to expand.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from scheduler_client.cli.connection import UsageError
from scheduler_client.dependencies import DependencyCondition, distinct
from scheduler_client.errors import NotFoundError

_CONDITIONS = ", ".join(c.value for c in DependencyCondition)


def add_submit_options(submit: argparse.ArgumentParser) -> None:
    submit.add_argument(
        "--after",
        action="append",
        default=[],
        metavar="ID[,ID...]",
        help="wait for these jobs (your own; an array id means each of its jobs) to end "
        "as --condition asks; the job is WAITING until then (repeatable)",
    )
    submit.add_argument(
        "--condition",
        help=f"with --after: {DependencyCondition.AFTER_OK} (default: every one COMPLETED), "
        f"{DependencyCondition.AFTER_ANY} (every one ended, however) or "
        f"{DependencyCondition.AFTER_NOT_OK} (any one ended other than COMPLETED)",
    )
    submit.add_argument(
        "--dependency",
        action="append",
        default=[],
        metavar="COND:ID[:ID...]",
        help="Slurm's spelling of --condition COND --after ID,ID, e.g. afterok:ID:ID "
        "(one condition per job; commas join more ids of the same condition)",
    )


def _ids(text: str, option: str) -> list[str]:
    ids = [part.strip() for part in text.split(",")]
    if not all(ids):
        raise UsageError(f"{option} {text!r}: an empty job id (expected ID[,ID...])")
    return ids


def _condition(text: str, option: str) -> DependencyCondition:
    try:
        return DependencyCondition.parse(text)
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None


def _slurm(spec: str) -> tuple[DependencyCondition, list[str]]:
    """`afterok:ID:ID[,afterok:ID...]`; Slurm's `?` (any of several conditions) is refused."""
    if "?" in spec:
        raise UsageError(f"--dependency {spec!r}: '?' is not supported; give one condition")
    conditions: set[DependencyCondition] = set()
    ids: list[str] = []
    for part in spec.split(","):
        name, _, rest = part.strip().partition(":")
        conditions.add(_condition(name, "--dependency"))
        part_ids = [i.strip() for i in rest.split(":")] if rest else []
        if not part_ids or not all(part_ids):
            raise UsageError(f"--dependency {spec!r}: expected CONDITION:ID[:ID...]")
        ids.extend(part_ids)
    if len(conditions) > 1:
        raise UsageError(f"--dependency {spec!r}: one condition per job ({_CONDITIONS})")
    return conditions.pop(), ids


def dependencies_from_args(args: argparse.Namespace) -> tuple[list[str], DependencyCondition]:
    """The job ids (each once, in order) and the condition the command line asks for."""
    ids = [i for text in args.after for i in _ids(text, "--after")]
    conditions: dict[DependencyCondition, str] = {}
    if args.condition is not None:
        conditions[_condition(args.condition, "--condition")] = f"--condition {args.condition}"
    for spec in args.dependency:
        condition, spec_ids = _slurm(spec)
        conditions.setdefault(condition, f"--dependency {spec}")
        ids.extend(spec_ids)
    if len(conditions) > 1:
        named = " and ".join(conditions.values())
        raise UsageError(f"{named} ask for different conditions; a job has one")
    if conditions and not ids:
        raise UsageError("--condition needs the jobs to wait for: add --after ID")
    condition = next(iter(conditions), DependencyCondition.AFTER_OK)
    return distinct(ids), condition


@contextmanager
def dependency_hints(job_ids: list[str]) -> Iterator[None]:
    """A submission naming jobs it depends on: NOT_FOUND can only be about one of those,
    or about an array among them, which the scheduler's words would not say."""
    try:
        yield
    except NotFoundError as error:
        if not job_ids:
            raise
        named = " (an array given to --after/--dependency)" if error.method == "GetJobArray" else ""
        hint = f"{error.message}{named}; nothing was submitted (`berth list` shows your jobs)"
        raise NotFoundError(error.code, hint, error.method) from None
