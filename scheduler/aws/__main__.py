"""`python -m scheduler.aws provision`: create what the scheduler and token database store into.

The one-shot init of docker-compose.yml, and a first step for a real
deployment: the jobs table with its indexes and TTL, the token table, the
bucket, and the SSM parameters that name them (`--job_bucket_name_key` and
friends take the scheduler's flag names and defaults, so the two agree without
configuration). Idempotent, like `provision()`: run it on every start.

`--tokens-file` is for development systems only: it also issues a token per
role and writes them as the `{role: token}` JSON that `--token-file` of the
agent and the client CLI read. Tokens never appear on stdout or in the log;
the log names their token_id.

Each step is printed with what it found or did ("created", "already there");
TTL that the store cannot enable is a warning line and the other steps go on.
Exit 0 done, 1 AWS refused or is unreachable (the message says which), 2 bad
arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import provision
from scheduler.backend_status.backend_status import (
    Availability,
    BackendAvailability,
    BackendStatusFormatError,
    parse_backend_status,
    render_backend_status,
)
from scheduler.config import SchedulerConfig
from scheduler.dev.dev_stack import DevNames
from scheduler.dev.dev_tokens import ensure_dev_tokens
from scheduler.domain.errors import BerthError
from scheduler.domain.jobs import Role
from scheduler.logging_setup import configure_logging
from token_database.registry import TokenRegistry
from token_database.token_store import DynamoDbTokenStore

PROG = "python -m scheduler.aws"
EXIT_FAILED = 1
EXIT_USAGE = 2

log = logging.getLogger("scheduler.aws")


def _backend_names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected backend names separated by commas, e.g. qpu,gpu")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="AWS resources for Berth (or an emulator standing in for AWS)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    names = DevNames()
    scheduler_defaults = SchedulerConfig()
    command = commands.add_parser(
        "provision",
        help="create tables, bucket and SSM parameters (idempotent)",
        description="Create the jobs table (indexes, TTL), the token table, the bucket and the "
        "SSM parameters naming them; existing ones and their data are kept.",
    )
    aws = command.add_argument_group("where")
    aws.add_argument("--endpoint", metavar="URL", help="AWS endpoint (an emulator); default AWS")
    aws.add_argument("--region", help="AWS region (default: AWS_DEFAULT_REGION or the profile)")
    resources = command.add_argument_group("resources")
    resources.add_argument("--table", default=names.table, help=f"jobs table ({names.table})")
    resources.add_argument("--bucket", default=names.bucket, help=f"job bucket ({names.bucket})")
    resources.add_argument(
        "--token-table", default=names.token_table, help=f"token table ({names.token_table})"
    )
    for flag, default, what in (
        ("--job_bucket_name_key", scheduler_defaults.job_bucket_name_key, "the bucket's name"),
        ("--job_table_name_key", scheduler_defaults.job_table_name_key, "the table's name"),
        (
            "--backend_status_parameter_name",
            scheduler_defaults.backend_status_parameter_name,
            "the backend-status TOML",
        ),
    ):
        resources.add_argument(
            flag, default=default, metavar="SSM_PARAM", help=f"SSM parameter for {what} ({default})"
        )
    status = command.add_argument_group("backend status")
    document = status.add_mutually_exclusive_group()
    document.add_argument(
        "--backend-status-file",
        type=Path,
        metavar="TOML",
        help="the status document to write when the parameter is absent",
    )
    document.add_argument(
        "--backends",
        type=_backend_names,
        default=(),
        metavar="NAME,NAME",
        help="backends available to every role, written when the status parameter is absent "
        "(default: an empty document; edit the parameter to add backends later)",
    )
    status.add_argument(
        "--overwrite-backend-status",
        action="store_true",
        help="replace an existing status document with the given one",
    )
    command.add_argument(
        "--tokens-file",
        type=Path,
        metavar="PATH",
        help="development only: keep a live token per role in this {role: token} JSON file",
    )
    command.add_argument("--log-format", choices=("text", "json"), default="text")
    return parser


def backend_status_document(backends: Sequence[str]) -> str:
    available = BackendAvailability(Availability.AVAILABLE, "provisioned by scheduler.aws")
    return render_backend_status({backend: dict.fromkeys(Role, available) for backend in backends})


def _status_document(args: argparse.Namespace) -> str:
    if args.backend_status_file is None:
        return backend_status_document(args.backends)
    text: str = args.backend_status_file.read_text(encoding="utf-8")
    parse_backend_status(text)  # the scheduler would refuse to start on a malformed one
    return text


def run_provision(args: argparse.Namespace) -> None:
    settings = AwsSettings(region=args.region, endpoint=args.endpoint)
    provision(
        settings,
        table=args.table,
        bucket=args.bucket,
        bucket_key_param=args.job_bucket_name_key,
        table_key_param=args.job_table_name_key,
        backend_status_param=args.backend_status_parameter_name,
        backend_status_toml=_status_document(args),
        token_table=args.token_table,
        overwrite_backend_status=args.overwrite_backend_status,
        report=lambda step: print(f"  {step}", flush=True),
    )
    if args.tokens_file is not None:
        store = DynamoDbTokenStore(make_client("dynamodb", settings), args.token_table)
        issued = ensure_dev_tokens(TokenRegistry(store), args.tokens_file)
        what = f"new tokens for {', '.join(issued)}" if issued else "its tokens are still valid"
        print(f"tokens file {args.tokens_file}: {what}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_format)
    try:
        run_provision(args)
    except NoRegionError:
        print(f"{PROG}: no AWS region: give --region or set AWS_DEFAULT_REGION", file=sys.stderr)
        return EXIT_USAGE
    except BackendStatusFormatError as error:
        print(f"{PROG}: --backend-status-file {args.backend_status_file}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (BerthError, BotoCoreError, ClientError, OSError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
