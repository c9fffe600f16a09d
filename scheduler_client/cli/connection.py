"""From command-line options to a connected `Client`: address, token, TLS."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import grpc

from scheduler_client.client import Client
from scheduler_client.errors import BerthError
from scheduler_client.token_source import DEFAULT_ROLE, read_token_file, resolve_token

ADDRESS_ENV = "BERTH_ADDRESS"
DEFAULT_ADDRESS = "localhost:8082"


class UsageError(BerthError):
    """A problem with the command line or local files: exit code 2."""


def default_address() -> str:
    return os.environ.get(ADDRESS_ENV, "").strip() or DEFAULT_ADDRESS


def add_connection_options(
    parser: argparse.ArgumentParser,
    *,
    suppress: bool,
    token_help: str,
    token_file_help: str,
    role_help: str | None,
) -> None:
    """--address, --token, --token-file, [--role], --tls, --tls-ca and --json.

    Accepted before and after the command name: the main parser gets real
    defaults, every sub-parser SUPPRESS, so a value given in either place wins.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--address",
        default=default(default_address()),
        help=f"scheduler submission address (default ${ADDRESS_ENV} or {DEFAULT_ADDRESS})",
    )
    group.add_argument("--token", default=default(None), help=token_help)
    group.add_argument("--token-file", default=default(None), metavar="FILE", help=token_file_help)
    if role_help is not None:
        group.add_argument("--role", default=default(DEFAULT_ROLE), help=role_help)
    group.add_argument("--tls", action="store_true", default=default(False), help="use TLS")
    group.add_argument(
        "--tls-ca", default=default(None), metavar="FILE", help="PEM roots to trust (implies --tls)"
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON for scripts"
    )


def token_from_args(args: argparse.Namespace) -> str:
    """--token, else --token-file (a token or dev-tokens JSON), else the library's order."""
    if args.token:
        return str(args.token)
    if args.token_file:
        return read_token_file(Path(args.token_file), args.role)
    return resolve_token(None, role=args.role)


def tls_from_args(args: argparse.Namespace) -> bool | grpc.ChannelCredentials:
    if args.tls_ca:
        try:
            roots = Path(args.tls_ca).read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read --tls-ca {args.tls_ca}: {error.strerror}") from None
        return grpc.ssl_channel_credentials(root_certificates=roots)
    return bool(args.tls)


def client_from_args(args: argparse.Namespace) -> Client:
    """A stopped scheduler is reported at once: the user is there to start it."""
    return Client(args.address, token_from_args(args), tls_from_args(args), retry_unreachable=False)
