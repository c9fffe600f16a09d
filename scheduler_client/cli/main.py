"""Argument parsing and dispatch for `python -m scheduler_client`.

The connection options (--address, --token, --json, ...) are accepted both
before and after the command name: they are defined on the main parser with
real defaults and on every sub-parser with SUPPRESS, so a value given in
either place wins and nothing is overwritten by a default.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from scheduler_client.cli import exit_codes, job_commands, overview_commands
from scheduler_client.cli.connection import DEFAULT_ADDRESS, UsageError, default_address
from scheduler_client.cli.formatting import Output
from scheduler_client.durations import parse_duration
from scheduler_client.errors import BerthError
from scheduler_client.token_source import DEFAULT_ROLE


def duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--address",
        default=default(default_address()),
        help=f"scheduler submission address (default $BERTH_ADDRESS or {DEFAULT_ADDRESS})",
    )
    group.add_argument(
        "--token", default=default(None), help="token (else $BERTH_TOKEN, ~/.config/berth/token)"
    )
    group.add_argument(
        "--token-file",
        default=default(None),
        metavar="FILE",
        help="file with a token, or the {role: token} JSON written by `python -m scheduler --dev`",
    )
    group.add_argument(
        "--role",
        default=default(DEFAULT_ROLE),
        help=f"entry of a {{role: token}} token file (default {DEFAULT_ROLE})",
    )
    group.add_argument("--tls", action="store_true", default=default(False), help="use TLS")
    group.add_argument(
        "--tls-ca", default=default(None), metavar="FILE", help="PEM roots to trust (implies --tls)"
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON for scripts"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler_client",
        description="Submit programs to a Berth scheduler, follow them, fetch their results.",
        epilog=exit_codes.HELP_TEXT,
    )
    _add_common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_text, description=help_text, epilog=exit_codes.HELP_TEXT
        )
        _add_common(sub, suppress=True)
        return sub

    job_commands.add_commands(command, duration_arg)
    overview_commands.add_commands(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else exit_codes.USAGE
    output = Output(args.json)
    try:
        code: int = args.run(args, output)
        return code
    except UsageError as error:
        output.error(error, exit_codes.USAGE)
        return exit_codes.USAGE
    except BerthError as error:
        code = exit_codes.exit_code_for(error)
        output.error(error, code)
        return code
    except KeyboardInterrupt:
        print("interrupted (the job, if any, keeps running)", file=sys.stderr)
        return 130
