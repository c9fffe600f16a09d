"""The token database's command line: `main(argv)` in-process for what it prints and returns,
and a subprocess where the real exit status, stderr and signals are the point."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import grpc
import pytest
from berth.tokens.v1 import token_database_pb2 as tdb
from berth.tokens.v1 import token_database_pb2_grpc

from tests.token_database_helpers import create_token_table
from token_database.cli import PROG, main
from token_database.registry import TokenRegistry
from token_database.token_store import DynamoDbTokenStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from token_database.token_info import TokenInfo

ROOT = Path(__file__).resolve().parent.parent


def storage_flags(endpoint: str, table: str) -> list[str]:
    return ["--table", table, "--endpoint", endpoint, "--region", os.environ["AWS_DEFAULT_REGION"]]


def cli(endpoint: str, table: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "token_database", *args, *storage_flags(endpoint, table)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_main(
    capsys: pytest.CaptureFixture[str], endpoint: str, table: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """The command in this process: what `cli` reports, without starting an interpreter."""
    code = main([*args, *storage_flags(endpoint, table)])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


@pytest.fixture(autouse=True)
def root_logger_kept() -> Iterator[None]:
    """main() installs its own root handler and level, as a process would; undo that."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def endpoint_table(moto_endpoint: str) -> Iterator[tuple[str, DynamoDBClient, str]]:
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint)
    table = create_token_table(client)
    yield moto_endpoint, client, table
    client.delete_table(TableName=table)


def test_cli_prints_a_new_token_once_and_lists_only_ids(
    endpoint_table: tuple[str, DynamoDBClient, str], capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint, client, table = endpoint_table
    run = functools.partial(run_main, capsys, endpoint, table)
    created = run("create", "--name", "alice", "--role", "developer")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert re.fullmatch(r"berth_[A-Za-z0-9_-]{43}", token), "stdout holds the token alone"
    token_id = hashlib.sha256(token.encode()).hexdigest()[:12]
    assert token_id in created.stderr and token not in created.stderr

    registry = TokenRegistry(DynamoDbTokenStore(client, table))
    assert registry.verify(token).name == "alice"

    listed = run("list")
    assert listed.returncode == 0, listed.stderr
    assert token not in listed.stdout + listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["TOKEN_ID", "NAME", "ROLE", "CREATED", "EXPIRES"]
    assert row.split()[:3] == [token_id, "alice", "developer"] and row.endswith("never")

    renewed = run("renew", token_id, "--expires", "30d")
    assert renewed.returncode == 0, renewed.stderr
    expiry: TokenInfo = registry.verify(token)
    assert expiry.expires_at is not None and expiry.expires_at > expiry.created_at + 29 * 86400

    deleted = run("delete", token_id)
    assert deleted.returncode == 0, deleted.stderr
    assert run("list").stdout.splitlines()[1:] == []
    missing = run("delete", token_id)
    assert missing.returncode == 1 and token_id in missing.stderr


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("create", "--name", "x", "--role", "boss"), "role 'boss' is not one of"),
        (("create", "--name", "x", "--role", "guest", "--expires", "soon"), "30d, 12h"),
        (("create", "--role", "guest"), "--name"),
        (("renew", "xyz", "--expires", "1d"), "12 hex characters"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    endpoint_table: tuple[str, DynamoDBClient, str],
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    hint: str,
) -> None:
    endpoint, _, table = endpoint_table
    result = run_main(capsys, endpoint, table, *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and hint in result.stderr, result.stderr
    assert result.stdout == ""


def test_cli_bad_input_exits_2_with_one_line_from_a_real_process(
    endpoint_table: tuple[str, DynamoDBClient, str],
) -> None:
    endpoint, _, table = endpoint_table
    result = cli(endpoint, table, "create", "--name", "x", "--role", "boss")
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"{PROG}: ") and "role 'boss' is not one of" in line, line


def test_cli_serve_answers_and_stops_cleanly_on_sigterm(
    endpoint_table: tuple[str, DynamoDBClient, str],
) -> None:
    endpoint, client, table = endpoint_table
    token, _ = TokenRegistry(DynamoDbTokenStore(client, table)).create_token("agent", "executor")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "token_database", "serve", "--address", "127.0.0.1:0"),
            *(*storage_flags(endpoint, table), "--log-format", "json"),
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert process.stderr is not None
        port = None
        for line in process.stderr:
            found = re.search(r"serving on .*\(port (\d+)\)", line)
            if found:
                assert json.loads(line)["level"] == "info", "--log-format json"
                port = int(found[1])
                break
        assert port, "the server logs its port"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = token_database_pb2_grpc.TokenDatabaseServiceStub(channel)
            info = stub.GetTokenInfo(tdb.GetTokenInfoRequest(token=token), timeout=10)
            assert (info.name, info.role) == ("agent", "executor")
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=20)
        assert process.returncode == 0, rest
        assert token not in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_cli_serve_refuses_to_start_without_its_table(moto_endpoint: str) -> None:
    result = cli(moto_endpoint, "no-such-table", "serve", "--address", "127.0.0.1:0")
    assert result.returncode == 1
    assert "token table 'no-such-table' does not exist" in result.stderr
