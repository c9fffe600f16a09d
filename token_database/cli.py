"""`python -m token_database`: serve the token database, or manage tokens directly.

The admin commands work on the DynamoDB table with the operator's AWS
credentials, not through the service: whoever may write the table is
trusted already, and this is how the first admin token comes to exist.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn, TypeVar

from botocore.exceptions import NoRegionError

from berth_common.errors import BerthError, InvalidArgument
from berth_common.option_values import log_format, parse_bool
from berth_common.options import ConfigError, add_arguments, declared_options, option, resolve
from token_database.aws_access import make_dynamodb_client, make_ssm_client, resolve_table_name
from token_database.dev_state import (
    DEFAULT_DEV_STATE_FILE,
    DevStateError,
    read_dev_state,
    use_dev_credentials,
)
from token_database.expiry import format_time, parse_expiry
from token_database.logging_setup import configure_logging
from token_database.registry import TokenRegistry
from token_database.server import start_token_database_server, stop_token_database_server
from token_database.token_info import ROLES, TokenInfo
from token_database.token_store import DynamoDbTokenStore

log = logging.getLogger("token_database")

PROG = "python -m token_database"
DEFAULT_ADDRESS = "[::]:8084"
DEFAULT_TABLE = "berth-tokens"
EXIT_FAILED = 1
EXIT_USAGE = 2
T = TypeVar("T")


class UsageError(Exception):
    """Bad input: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {PROG} --help)")


@dataclass(frozen=True)
class StorageOptions:
    """Where the tokens live; given before or after the command."""

    table: str | None = option(None, "--table", help=f"token table name (default {DEFAULT_TABLE})")
    table_name_key: str | None = option(
        None, "--table_name_key", help="SSM parameter holding the token table name"
    )
    region: str | None = option(None, "--region", help="AWS region")
    endpoint: str | None = option(None, "--endpoint", help="AWS endpoint (an emulator)")
    dev: bool = option(
        False,
        "--dev",
        parse=parse_bool,
        switch=True,
        help="the token table of `python -m scheduler --dev` (endpoint, region and table "
        f"from its state file {DEFAULT_DEV_STATE_FILE}; no credentials needed)",
    )
    dev_state: Path = option(
        DEFAULT_DEV_STATE_FILE,
        "--dev-state",
        parse=Path,
        help="with --dev: the state file, if the scheduler wrote it elsewhere",
    )
    log_format: str = option("text", "--log-format", parse=log_format, help="text or json")


@dataclass(frozen=True)
class ServeOptions:
    address: str = option(DEFAULT_ADDRESS, "--address", help=f"default {DEFAULT_ADDRESS}")
    grace_seconds: float = option(
        5.0, "--grace-seconds", parse=float, help="in-flight call grace on stop"
    )


def _options_of(config_type: type[T], args: argparse.Namespace) -> T:
    try:
        return config_type(**resolve(declared_options(config_type), vars(args), environ={}))
    except ConfigError as error:
        raise UsageError(f"{error} (see {PROG} --help)") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Berth's token database: serve it, or create, list, renew, delete tokens.",
        epilog="Exit status: 0 done, 1 failed (not found, AWS unavailable), 2 bad input.",
    )
    storage = declared_options(StorageOptions)
    add_arguments(parser.add_argument_group("storage"), storage)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="run the gRPC service")
    add_arguments(serve, declared_options(ServeOptions))

    create = commands.add_parser("create", help="issue a token; prints it once on stdout")
    create.add_argument("--name", required=True, help="who or what the token is for")
    create.add_argument("--role", required=True, help=" | ".join(ROLES))
    create.add_argument(
        "--expires", default="never", help="30d, 12h, 1w2d, a date (UTC) or never (default)"
    )

    listing = commands.add_parser("list", help="show tokens (ids, never the tokens)")
    listing.add_argument("--json", action="store_true", help="one JSON array")

    renew = commands.add_parser("renew", help="set a token's expiry")
    renew.add_argument("token_id")
    renew.add_argument("--expires", required=True, help="30d, 12h, a date (UTC) or never")

    delete = commands.add_parser("delete", help="revoke a token")
    delete.add_argument("token_id")

    for command in (serve, create, listing, renew, delete):
        # Given after the command only if given at all, so they do not reset earlier ones.
        add_arguments(command.add_argument_group("storage"), storage, absent=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        storage = _options_of(StorageOptions, args)
        configure_logging(storage.log_format, logging.INFO if args.command == "serve" else 100)
        registry, store = _open_registry(storage)
        if args.command == "serve":
            serve = _options_of(ServeOptions, args)
            return _serve(registry, store, serve.address, serve.grace_seconds)
        return _run_admin_command(registry, args)
    except (UsageError, InvalidArgument) as error:
        print(f"{PROG}: {_message(error)}", file=sys.stderr)
        return EXIT_USAGE
    except BerthError as error:
        print(f"{PROG}: {error.message}", file=sys.stderr)
        return EXIT_FAILED


def _message(error: Exception) -> str:
    return error.message if isinstance(error, BerthError) else str(error)


def _with_dev_state(args: StorageOptions) -> StorageOptions:
    """--dev: what the development system wrote fills the storage options not given."""
    try:
        state = read_dev_state(args.dev_state)
    except DevStateError as error:
        raise UsageError(str(error)) from None
    use_dev_credentials()
    return replace(
        args,
        endpoint=args.endpoint or state.endpoint,
        region=args.region or state.region,
        table=args.table if args.table_name_key else args.table or state.token_table,
    )


def _open_registry(args: StorageOptions) -> tuple[TokenRegistry, DynamoDbTokenStore]:
    if args.table and args.table_name_key:
        raise UsageError("give --table or --table_name_key, not both")
    if args.dev:
        args = _with_dev_state(args)
    try:
        table = args.table or DEFAULT_TABLE
        if args.table_name_key:
            table = resolve_table_name(
                make_ssm_client(args.region, args.endpoint), args.table_name_key
            )
        client = make_dynamodb_client(args.region, args.endpoint)
    except NoRegionError:
        raise UsageError("no AWS region: give --region or set AWS_DEFAULT_REGION") from None
    store = DynamoDbTokenStore(client, table)
    return TokenRegistry(store), store


def _run_admin_command(registry: TokenRegistry, args: argparse.Namespace) -> int:
    now = time.time()
    if args.command == "create":
        token, info = registry.create_token(args.name, args.role, parse_expiry(args.expires, now))
        print(token, flush=True)
        print(
            f"created token_id {info.token_id} for {info.name!r} (role {info.role}, expires "
            f"{format_time(info.expires_at)}); the token above is shown only this once",
            file=sys.stderr,
        )
    elif args.command == "list":
        infos = registry.list_tokens()
        print(_json_listing(infos) if args.json else _table(infos, now))
    elif args.command == "renew":
        info = registry.renew(args.token_id, parse_expiry(args.expires, now))
        print(f"token {info.token_id} ({info.name!r}) expires {format_time(info.expires_at)}")
    elif args.command == "delete":
        info = registry.delete(args.token_id)
        print(f"deleted token {info.token_id} ({info.name!r}, role {info.role})")
    return 0


def _table(infos: list[TokenInfo], now: float) -> str:
    rows = [("TOKEN_ID", "NAME", "ROLE", "CREATED", "EXPIRES")]
    for info in infos:
        expires = format_time(info.expires_at) + (" (expired)" if info.expired(now) else "")
        rows.append((info.token_id, info.name, info.role, format_time(info.created_at), expires))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _json_listing(infos: list[TokenInfo]) -> str:
    return json.dumps(
        [
            {
                "token_id": i.token_id,
                "name": i.name,
                "role": i.role,
                "created_at": i.created_at,
                "expires_at": i.expires_at,
            }
            for i in infos
        ],
        indent=2,
    )


def _serve(registry: TokenRegistry, store: DynamoDbTokenStore, address: str, grace_s: float) -> int:
    store.check_table()
    try:
        asyncio.run(_serve_until_signal(registry, store.table, address, grace_s))
    except RuntimeError as error:  # the address could not be bound
        log.error("cannot serve on %s: %s", address, error)
        return EXIT_FAILED
    return 0


async def _serve_until_signal(
    registry: TokenRegistry, table: str, address: str, grace_s: float
) -> None:
    loop = asyncio.get_running_loop()
    # Each verification blocks a thread on DynamoDB; the default pool (cores + 4) is too small.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="tokens"))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server, port = await start_token_database_server(registry, address)
    log.info("token database serving on %s (port %d), table %s", address, port, table)
    await stop.wait()
    log.info("stop signal received: finishing in-flight calls (up to %.1f s)", grace_s)
    await stop_token_database_server(server, grace_s)
    log.info("token database stopped")
