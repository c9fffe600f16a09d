"""The compose system's own commands, run for real as local processes, one job end to end.

No Docker engine runs here, so this is the next best proof that `docker compose
up` works: every service's command is taken from docker-compose.yml, with
service host names mapped to 127.0.0.1, container ports to free loopback ports
and the tokens volume to a temporary directory, and started in depends_on
order. Readiness is awaited the way compose awaits it, through each service's
own healthcheck command (with `--wait`, which follows the gRPC health stream
instead of polling). Then the client CLI, with the tokens file the init wrote,
submits a program and waits for it to be COMPLETED by the agent.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.compose_model import (
    ROOT,
    LoopbackPlan,
    healthcheck_argv,
    load_compose,
    service_argv,
    service_environment,
    wiring,
    words,
)
from tests.replica_processes import LoggedProcess

COMPOSE = load_compose()
SERVICES: dict[str, Any] = COMPOSE["services"]
BELL = b"OPENQASM 3;\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n"


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: each is held until all are chosen, so none repeats."""
    with ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _kill_when_exited(command: subprocess.Popen[str], service: subprocess.Popen[str]) -> None:
    """Stop `command` as soon as `service` ends: a crashed service fails the test at once."""

    def watch() -> None:
        service.wait()
        if command.poll() is None:
            command.kill()

    threading.Thread(target=watch, daemon=True).start()


class LoopbackSystem:
    def __init__(self, tmp_path: Path) -> None:
        ports: set[int] = set()
        for service in SERVICES.values():
            ports |= wiring(service_argv(service), service_environment(service)).listens
        self.volume = tmp_path / "tokens"
        free = dict(zip(sorted(ports), _free_ports(len(ports)), strict=True))
        self.plan = LoopbackPlan(list(SERVICES), free, self.volume)
        self.logs = tmp_path
        self.processes: list[LoggedProcess] = []

    def env(self, name: str) -> dict[str, str]:
        return {**os.environ, **service_environment(SERVICES[name])}

    def start(self, name: str) -> LoggedProcess:
        argv = self.plan.argv(service_argv(SERVICES[name]))
        process = LoggedProcess(name, argv, self.logs / f"{name}.log", self.env(name))
        self.processes.append(process)
        return process

    def run(
        self,
        name: str,
        *extra: str,
        argv: Sequence[str] | None = None,
        what: str = "",
        unless_exited: LoggedProcess | None = None,
    ) -> str:
        """A one-shot command of service `name` to completion; its stdout, once it exited 0.

        With `unless_exited`, the command is stopped as soon as that process ends, so a
        service that crashed fails the test at once instead of after a wait.
        """
        argv = self.plan.argv(argv if argv is not None else service_argv(SERVICES[name]))
        command = subprocess.Popen(
            [*argv, *extra],
            cwd=ROOT,
            env=self.env(name),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if unless_exited is not None:
            _kill_when_exited(command, unless_exited.process)
        try:
            stdout, stderr = command.communicate(timeout=90)
        finally:
            command.kill()
        assert command.returncode == 0, (
            f"{what or name} exited {command.returncode}:\n{stderr}\n{self.outputs()}"
        )
        return stdout

    def healthy(self, process: LoggedProcess, wait_s: float | None = None) -> None:
        """The service's compose healthcheck passes (with --wait: once it serves)."""
        argv = healthcheck_argv(SERVICES[process.name])
        extra = ["--wait", str(wait_s)] if wait_s else []
        what = f"the healthcheck of {process.name}"
        self.run(process.name, *extra, argv=argv, what=what, unless_exited=process)

    def outputs(self) -> str:
        return "\n".join(
            f"--- {process.name} ---\n" + "\n".join(process.lines[-40:])
            for process in self.processes
        )

    def stop(self) -> None:
        """SIGTERM to all at once, as `docker compose down` does; each drains on its own."""
        for process in self.processes:
            if process.process.poll() is None:
                process.process.terminate()
        for process in self.processes:
            process.stop()


@pytest.fixture
def system(tmp_path: Path) -> Iterator[LoopbackSystem]:
    system = LoopbackSystem(tmp_path)
    yield system
    system.stop()


def test_compose_commands_run_a_job_to_completed(system: LoopbackSystem, tmp_path: Path) -> None:
    # aws: werkzeug prints its banner once the socket is bound.
    aws = system.start("aws")
    aws.wait_for("Running on", timeout_s=30)
    system.healthy(aws)
    provisioned = system.run("init")
    assert "new tokens for admin, developer, guest, executor" in provisioned
    tokens = json.loads((system.volume / "dev-tokens.json").read_text())
    assert {"admin", "developer", "executor"} <= set(tokens)
    assert not any(token in provisioned for token in tokens.values())

    tokens_db, scheduler = system.start("tokens"), system.start("scheduler")
    system.healthy(tokens_db, wait_s=30)
    system.healthy(scheduler, wait_s=30)
    system.start("agent")

    program = tmp_path / "bell.qasm"
    program.write_bytes(BELL)
    result_file = tmp_path / "result.json"
    cli = words(SERVICES["cli"]["entrypoint"])  # what `docker compose run cli ...` runs
    submitted = json.loads(
        system.run(
            "cli",
            *["--json", "submit", str(program), "--backend", "emulator", "--shots", "100"],
            *["--wait", "--wait-timeout", "30s", "-o", str(result_file)],
            argv=cli,
        )
    )
    assert submitted["status"] == "COMPLETED", f"{submitted}\n{system.outputs()}"
    result = json.loads(result_file.read_text())
    assert result["payload_sha256"] == hashlib.sha256(BELL).hexdigest()
    assert result["backend"] == "emulator" and result["n_shots"] == 100
    # The operators' service answers with the admin token from the same file.
    system.run("admin")
    # The dashboard serves the job to its owner, through the scheduler only.
    dashboard = system.start("dashboard")
    dashboard.wait_for("dashboard on", timeout_s=30)  # an HTTP healthcheck does not wait
    system.healthy(dashboard)
    _dashboard_shows(system, tokens["developer"], submitted["job_id"])


def _dashboard_shows(system: LoopbackSystem, token: str, job_id: str) -> None:
    base = f"http://127.0.0.1:{system.plan.port(8080)}"
    with requests.Session() as browser:
        form = browser.get(f"{base}/signin", timeout=10)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text
        signed = browser.post(f"{base}/signin", data={"csrf": csrf[1], "token": token}, timeout=10)
        assert signed.status_code == 200 and signed.url == f"{base}/", signed.text
        jobs = browser.get(f"{base}/jobs", timeout=10)
        assert job_id in jobs.text and "COMPLETED" in jobs.text
        result = browser.get(f"{base}/jobs/{job_id}/result", timeout=30)
        assert result.status_code == 200 and json.loads(result.content)["backend"] == "emulator"
