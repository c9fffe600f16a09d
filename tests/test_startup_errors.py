"""A scheduler that cannot start says why in one line and exits non-zero."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _start(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SCHEDULER_"))}
    env.update(HOME=str(home), AWS_CONFIG_FILE=str(home / "none"))
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_region_is_named_not_a_traceback(tmp_path: Path) -> None:
    result = _start(["--endpoint", "http://127.0.0.1:9"], tmp_path)
    assert result.returncode == 1
    assert "no AWS region: pass --region" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_flag_value_exits_2_naming_it(tmp_path: Path) -> None:
    result = _start(["--lease-seconds", "soon"], tmp_path)
    assert result.returncode == 2
    assert "--lease-seconds='soon'" in result.stderr


def _aws_args(endpoint: str) -> list[str]:
    return [
        "--region",
        "us-east-1",
        "--endpoint",
        endpoint,
        "--metrics-port",
        "-1",
        "-k",
        "testing",
        "-s",
        "testing",
    ]


@pytest.mark.parametrize("flag", ["--port-for-submission", "--port-for-execution"])
def test_taken_port_is_named_before_anything_is_loaded(tmp_path: Path, flag: str) -> None:
    with socket.socket(socket.AF_INET6) as taken:
        taken.bind(("::", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = (
            "--port-for-execution" if flag == "--port-for-submission" else "--port-for-submission"
        )
        # The AWS endpoint is dead: a scheduler that loaded its queue first would fail on it.
        result = _start([*_aws_args("http://127.0.0.1:9"), flag, str(port), other, "0"], tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"cannot start: port {port} is in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("cannot start") == 1


class _NotAws(BaseHTTPRequestHandler):
    """An HTTP server that is not AWS: every request is answered 404."""

    def do_POST(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "9")
        self.end_headers()
        self.wfile.write(b"not here\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_aws_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_endpoint_without_ssm_is_one_line(tmp_path: Path, not_aws_endpoint: str) -> None:
    result = _start([*_aws_args(not_aws_endpoint), *_free_ports()], tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "cannot start" in line]
    assert len(lines) == 1, result.stderr
    assert "SSM" in lines[0] and "--endpoint" in lines[0]


def test_unreachable_endpoint_is_one_line(tmp_path: Path) -> None:
    result = _start([*_aws_args("http://127.0.0.1:9"), *_free_ports()], tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "cannot start" in line]
    assert len(lines) == 1, result.stderr
    assert "SSM" in lines[0] and "unreachable" in lines[0] and "--endpoint" in lines[0]


def _free_ports() -> list[str]:
    return ["--port-for-submission", "0", "--port-for-execution", "0"]
