"""Each way a command goes wrong says what to do, with its exit code, and says it at once.

Wrong port, nothing listening, a program too large, TLS on one side only, a backend
in maintenance, a bad duration, a reader that stops early: gRPC's own words for these
("Method not found!", "Socket closed") tell a user nothing, and exit 7 means a bug.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from berth_common.version import __version__
from scheduler.admin.cli import main as admin_main
from scheduler_client.cli.main import main
from tests.berth_system import BerthSystem
from tests.client_harness import ROOT, RunCli, closed_port, submit_id
from tests.tls_material import CertificateAuthority

pytest_plugins = ["tests.client_fixtures"]  # `cli`, `program`

# Well under the 2.5 s the retries of an UNAVAILABLE call take.
AT_ONCE_S = 1.0


def _timed(cli: RunCli, *args: str, connect: bool = True) -> tuple[float, int, str]:
    started = time.monotonic()
    ran = cli(*args, connect=connect)
    return time.monotonic() - started, ran.code, ran.err


def test_the_execution_port_is_named_as_the_wrong_port(
    berth_system: BerthSystem, cli: RunCli
) -> None:
    address = berth_system.execution_address
    token = ["--token-file", str(berth_system.tokens_file)]
    ran = cli("--address", address, *token, "list", connect=False)
    assert ran.code == 2, ran.err
    assert f"{address} does not offer the submission API" in ran.err
    assert "execution port" in ran.err and "submission port" in ran.err


def test_nothing_listening_asks_whether_the_scheduler_runs_without_retrying(
    cli: RunCli,
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    took, code, err = _timed(cli, "--address", address, "--token", "t", "list", connect=False)
    assert code == 5
    assert err.strip() == (
        f"berth: UNAVAILABLE: cannot connect to {address}: is the scheduler running at {address}?"
    )
    assert took < AT_ONCE_S


def test_a_program_too_large_exits_2_naming_the_role_limit(cli: RunCli, tmp_path: Path) -> None:
    program = tmp_path / "huge.qasm"
    program.write_bytes(b"x" * 12_000_000)
    ran = cli("submit", str(program), "--backend", "emulator")
    assert ran.code == 2, ran.err
    assert "the request is 12" in ran.err
    assert "SCHEDULER_MAX_JOB_BYTES_<ROLE>" in ran.err and "send a smaller program" in ran.err


@pytest.fixture
def tls_and_plain_ports(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """(a TLS port, a plaintext port, the CA file): real gRPC servers, no services needed."""
    ca = CertificateAuthority(tmp_path, "ca")
    pair = ca.issue("server", server=True)
    credentials = grpc.ssl_server_credentials([(pair.key.read_bytes(), pair.cert.read_bytes())])
    with ThreadPoolExecutor(2) as pool:
        tls, plain = grpc.server(pool), grpc.server(pool)
        tls_port = tls.add_secure_port("127.0.0.1:0", credentials)
        plain_port = plain.add_insecure_port("127.0.0.1:0")
        tls.start()
        plain.start()
        yield f"127.0.0.1:{tls_port}", f"127.0.0.1:{plain_port}", ca.files.cert
        tls.stop(None)
        plain.stop(None)


def test_tls_on_one_side_only_is_named(
    cli: RunCli, tls_and_plain_ports: tuple[str, str, Path]
) -> None:
    tls_port, plain_port, ca = tls_and_plain_ports
    took, code, err = _timed(cli, "--address", tls_port, "--token", "t", "list", connect=False)
    assert code == 5 and took < AT_ONCE_S
    assert "it probably expects TLS; connect with --tls" in err
    took, code, err = _timed(
        cli, "--address", plain_port, "--tls-ca", str(ca), "--token", "t", "list", connect=False
    )
    assert code == 5 and took < AT_ONCE_S
    assert f"{plain_port} does not speak TLS: connect without --tls" in err
    _, code, err = _timed(
        cli, "--address", tls_port, "--tls", "--token", "t", "list", connect=False
    )
    assert code == 5 and "give the CA that signed it with --tls-ca FILE" in err


def test_a_backend_in_maintenance_is_reported_at_once_with_its_reason(
    berth_system: BerthSystem,
    cli: RunCli,
    program: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    admin = ["--address", berth_system.submission_address]
    admin += ["--token-file", str(berth_system.tokens_file)]
    set_backend = ["set-backend", "emulator", "--status", "maintenance", "--description", "Cooling"]
    assert admin_main([*admin, *set_backend]) == 0
    capsysbinary.readouterr()
    took, code, err = _timed(cli, "submit", str(program), "--backend", "emulator")
    assert code == 5 and took < AT_ONCE_S
    assert "is maintenance for role developer: Cooling" in err


def test_a_bad_duration_is_one_line_without_the_usage_block(cli: RunCli, program: Path) -> None:
    ran = cli("submit", str(program), "--backend", "emulator", "--timeout", "5 parsecs")
    assert ran.code == 2
    assert ran.err.count("\n") == 1 and "usage:" not in ran.err
    assert "cannot read duration '5 parsecs'" in ran.err and "berth submit --help" in ran.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"berth {__version__}\n"


def test_a_reader_that_stops_early_ends_the_command_quietly(
    berth_system: BerthSystem, cli: RunCli, program: Path
) -> None:
    submit_id(cli, program)
    connection = ["--address", berth_system.submission_address]
    connection += ["--token-file", str(berth_system.tokens_file)]
    process = subprocess.Popen(
        [sys.executable, "-m", "scheduler_client", *connection, "list", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head` does once it has its lines
    err = process.stderr.read().decode()
    assert process.wait(timeout=30) == 141
    assert err == ""
