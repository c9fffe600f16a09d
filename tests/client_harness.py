"""What the client tests share: the CLI run in-process, agents that end jobs, a network hop.

The `Relay` is a plain TCP hop between a client and a real scheduler port: it
stands in for the network, so a test can make the handshake slow or lose the
answer to a call that the scheduler did carry out. Everything behind it is the
real system.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from scheduler_client.cli.main import main
from tests.agent_helpers import (
    CANCELLED,
    FAILURE,
    SUCCESS,
    TIMEOUT,
    ManualAgent,
    Outcome,
    run_one_job,
)
from tests.berth_system import BerthSystem

ROOT = Path(__file__).resolve().parent.parent
RESULT = b'{"counts": {"00": 7, "11": 3}}'
ROLE_MAX_TIMEOUT_S = {"admin": 3600.0, "developer": 600.0, "guest": 300.0}


class Ran(NamedTuple):
    """One CLI run: exit code, stdout exactly as bytes, stderr."""

    code: int
    raw: bytes
    err: str

    @property
    def out(self) -> str:
        return self.raw.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.raw)


RunCli = Callable[..., Ran]


def cli_runner(
    system: BerthSystem, capture: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> RunCli:
    """`run(*args)` runs `python -m scheduler_client` in-process as the dev-tokens developer.

    `connect=False` leaves out --address and --token-file, for tests of where
    those come from. The caller's own BERTH_TOKEN and BERTH_ADDRESS are hidden.
    """
    monkeypatch.delenv("BERTH_TOKEN", raising=False)
    monkeypatch.delenv("BERTH_ADDRESS", raising=False)

    def run(*args: str, connect: bool = True) -> Ran:
        prefix = (
            ["--address", system.submission_address, "--token-file", str(system.tokens_file)]
            if connect
            else []
        )
        code = main([*prefix, *args])
        captured = capture.readouterr()
        return Ran(code, captured.out, captured.err.decode("utf-8", errors="replace"))

    return run


def write_program(directory: Path) -> Path:
    path = directory / "bell.qasm"
    path.write_text("OPENQASM 3; qubit[2] q; h q[0]; cx q[0], q[1];")
    return path


def submit_id(cli: RunCli, program: Path, *extra: str) -> str:
    """Submit `program` to the emulator backend through the CLI; its job id."""
    ran = cli("submit", str(program), "--backend", "emulator", *extra)
    assert ran.code == 0, ran.err
    return ran.out.strip()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- ending a job the ways a job can end --------------------------------------------------


def agent_runs_next_job(
    system: BerthSystem,
    outcome: Outcome = SUCCESS,
    error: str = "",
    result: bytes = RESULT,
    log: bytes = b"",
) -> str:
    """An agent takes the next emulator job (waiting for one) and ends it with `outcome`."""
    return run_one_job(
        system.execution_address,
        system.tokens["executor"],
        "emulator",
        result,
        outcome,
        error=error,
        log=log,
    )


def agent_in_background(
    system: BerthSystem, outcome: Outcome = SUCCESS, error: str = ""
) -> threading.Thread:
    """`agent_runs_next_job` in a thread, for a job that is about to be submitted."""
    thread = threading.Thread(
        target=agent_runs_next_job, args=(system, outcome, error), daemon=True
    )
    thread.start()
    return thread


# (the system, a function cancelling the job) -> the job has ended.
Ending = Callable[[BerthSystem, Callable[[], object]], None]


def ended_by_agent(outcome: Outcome) -> Ending:
    def end(system: BerthSystem, cancel: Callable[[], object]) -> None:
        agent_runs_next_job(system, outcome, "" if outcome == SUCCESS else "ended by the agent")

    return end


def cancelled_while_queued(system: BerthSystem, cancel: Callable[[], object]) -> None:
    cancel()


def cancelled_while_running(system: BerthSystem, cancel: Callable[[], object]) -> None:
    """The agent holds the job, learns of the cancel from its heartbeat and stops."""
    with ManualAgent(system.execution_address, system.tokens["executor"]) as agent:
        assigned = agent.assign("emulator")
        cancel()
        assert agent.heartbeat(assigned.job_id).cancel_requested
        agent.finish(assigned, outcome=CANCELLED, error="stopped on request")


# Every way a job ends, with the status `wait` must end on.
TERMINAL_ENDINGS = [
    pytest.param(ended_by_agent(SUCCESS), "COMPLETED", id="completed"),
    pytest.param(ended_by_agent(FAILURE), "FAILED", id="failed"),
    pytest.param(ended_by_agent(TIMEOUT), "TIMEOUT", id="timeout"),
    pytest.param(cancelled_while_queued, "CANCELLED", id="cancelled-queued"),
    pytest.param(cancelled_while_running, "CANCELLED", id="cancelled-running"),
]


# --- the network between client and scheduler ---------------------------------------------


class _Connection:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.lose_answers = False

    def close(self) -> None:
        for end in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()


class Relay:
    """A TCP hop in front of `upstream` (HOST:PORT); a context manager.

    `answer_delay_s` holds back the first bytes of every connection's answer
    direction, as a distant or congested link would. `lose_answers()` makes
    the connections open at that moment swallow everything the scheduler
    sends; `cut()` then drops them, so their calls fail as a broken network
    does. New connections are always relayed normally.
    """

    def __init__(self, upstream: str, *, answer_delay_s: float = 0.0) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._answer_delay_s = answer_delay_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._connections: list[_Connection] = []
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def lose_answers(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.lose_answers = True

    def cut(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.cut()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                upstream = socket.create_connection(self._upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the scheduler is down: the client sees a refused hop
                continue
            connection = _Connection(client, upstream)
            with self._lock:
                self._connections.append(connection)
            threading.Thread(target=self._pump_requests, args=(connection,), daemon=True).start()
            threading.Thread(target=self._pump_answers, args=(connection,), daemon=True).start()

    def _pump_requests(self, connection: _Connection) -> None:
        try:
            while data := connection.client.recv(65536):
                connection.upstream.sendall(data)
        except OSError:
            pass
        connection.close()

    def _pump_answers(self, connection: _Connection) -> None:
        first = True
        try:
            while data := connection.upstream.recv(65536):
                if first and self._answer_delay_s:
                    time.sleep(self._answer_delay_s)  # the slow link itself, not a synchronisation
                first = False
                if not connection.lose_answers:
                    connection.client.sendall(data)
        except OSError:
            pass
        connection.close()
