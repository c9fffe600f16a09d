"""Argument parsing and dispatch for `python -m scheduler_client`.

The connection options (--address, --token, --json, ...) are accepted both
before and after the command name: they are defined on the main parser with
real defaults and on every sub-parser with SUPPRESS, so a value given in
either place wins and nothing is overwritten by a default.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from berth_common.times import parse_duration
from berth_common.version import __version__
from scheduler_client.cli import (
    exit_codes,
    hold_commands,
    job_commands,
    overview_commands,
    usage_command,
)
from scheduler_client.cli.connection import UsageError, add_connection_options
from scheduler_client.cli.formatting import Output
from scheduler_client.errors import BerthError
from scheduler_client.token_source import DEFAULT_ROLE


class _Parser(argparse.ArgumentParser):
    """A bad command line gets one line saying what is wrong, not the whole usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(exit_codes.USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    add_connection_options(
        parser,
        suppress=suppress,
        token_help="token (else $BERTH_TOKEN, ~/.config/berth/token)",
        token_file_help="file with a token, or the {role: token} JSON written by "
        "`python -m scheduler --dev`",
        role_help=f"entry of a {{role: token}} token file (default {DEFAULT_ROLE})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="berth",
        description="Submit programs to a Berth scheduler, follow them, fetch their results.",
        epilog=exit_codes.HELP_TEXT,
    )
    parser.add_argument("--version", action="version", version=f"berth {__version__}")
    _add_common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=help_text, description=help_text, epilog=exit_codes.HELP_TEXT
        )
        _add_common(sub, suppress=True)
        return sub

    job_commands.add_commands(command, duration_arg)
    hold_commands.add_commands(command)
    overview_commands.add_commands(command)
    usage_command.add_command(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run_cli(build_parser(), argv)
    except BrokenPipeError:
        # The reader stopped (`berth list | head`): nothing is wrong and nothing more to say.
        # stdout goes to /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exit_codes.CLOSED_PIPE


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, run the chosen command's `run(args, output)`, and map errors to exit codes."""
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
        return exit_codes.INTERRUPTED
