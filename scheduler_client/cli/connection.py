"""From command-line options to a connected `Client`: address, token, TLS."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import grpc

from scheduler_client.client import Client
from scheduler_client.errors import BerthError
from scheduler_client.token_source import read_token_file, resolve_token

ADDRESS_ENV = "BERTH_ADDRESS"
DEFAULT_ADDRESS = "localhost:8082"


class UsageError(BerthError):
    """A problem with the command line or local files: exit code 2."""


def default_address() -> str:
    return os.environ.get(ADDRESS_ENV, "").strip() or DEFAULT_ADDRESS


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
    return Client(args.address, token_from_args(args), tls_from_args(args))
