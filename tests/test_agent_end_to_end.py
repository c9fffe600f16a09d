"""The executor agent as a real subprocess against a real scheduler (in process) and moto S3.

Each test is one thing an operator or a researcher sees: the job's final
status and detail, its exact result and its log, and what the agent logs.
Tests wait for events (the agent's JSON log lines, WatchJob), not for time.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from berth.scheduler.v1 import job_pb2

from examples.echo_program import make_result
from executor_agent import AGENT_VERSION
from tests.agent_process import ROOT, AgentProcess, Researcher, ends_soon, kill_group_of
from tests.berth_system import BerthSystem

PROGRAM = ["--", sys.executable, str(Path(__file__).with_name("agent_job_program.py"))]
ECHO = ["--", sys.executable, "examples/echo_program.py", "{input}", "{output}"]
PYTHON_FUNCTION = ["--runner", "python", "--python-function", "tests.agent_job_function:run"]
NO_GATE = {"BERTH_TEST_NO_GATE": "1"}


class Setup:
    """A system, a researcher on it, and agents started on demand; all stopped afterwards."""

    def __init__(self, system: BerthSystem, tmp_path: Path) -> None:
        self.system = system
        self.tmp_path = tmp_path
        self.researcher = Researcher(system)
        self.agents: list[AgentProcess] = []
        self.orphans: list[Path] = []  # pid files of jobs left running by SIGKILLed agents

    def agent(
        self,
        *options: str,
        runner: Sequence[str] = PROGRAM,
        agent_id: str | None = None,
        env: dict[str, str] | None = None,
    ) -> AgentProcess:
        """An agent with `options`; the runner goes last, since all after `--` is the program's."""
        name = agent_id or f"agent{len(self.agents)}"
        agent = AgentProcess(
            self.system,
            "--agent-id",
            name,
            *options,
            *runner,
            env=env,
            stderr_path=self.tmp_path / f"{name}-{len(self.agents)}.stderr",
        )
        self.agents.append(agent)
        agent.wait_for("started")
        return agent

    def kill_agent_running_a_job(self, payload: bytes, agent_id: str | None = None) -> str:
        """SIGKILL an agent in the middle of a job that waits forever (unless NO_GATE)."""
        agent = self.agent(agent_id=agent_id)
        pidfile = self.tmp_path / f"orphan{len(self.orphans)}.pid"
        self.orphans.append(pidfile)
        params = {"gate": str(self.tmp_path / "never"), "pidfile": str(pidfile)}
        job_id = self.researcher.submit(payload, parameters=params)
        agent.wait_for("running", job_id)
        agent.signal(signal.SIGKILL)
        agent.wait_exit()
        return job_id

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        for pidfile in self.orphans:
            if pidfile.exists():
                kill_group_of(int(pidfile.read_text()))
        self.researcher.close()


@pytest.fixture
def setup_factory(
    make_berth_system: Callable[..., BerthSystem], tmp_path: Path
) -> Iterator[Callable[..., Setup]]:
    setups: list[Setup] = []

    def make(**config: Any) -> Setup:
        setup = Setup(make_berth_system(**config), tmp_path)
        setups.append(setup)
        return setup

    yield make
    for setup in setups:
        setup.close()


@pytest.fixture
def setup(setup_factory: Callable[..., Setup]) -> Setup:
    return setup_factory()


@pytest.mark.parametrize(
    ("runner", "runner_version"),
    [
        (ECHO, "command:python"),
        (
            ["--runner", "python", "--python-function", "examples.echo_function:run"],
            "python:examples.echo_function:run",
        ),
    ],
    ids=["command-echo_program", "python-echo_function"],
)
def test_a_job_runs_end_to_end_and_its_owner_gets_the_exact_result(
    setup: Setup, runner: list[str], runner_version: str
) -> None:
    agent = setup.agent(runner=runner)
    payload = b"OPENQASM 3; qubit[2] q; h q[0]; cx q[0], q[1];"
    job_id = setup.researcher.submit(payload, shots=1000)
    info = setup.researcher.wait_terminal(job_id)
    assert info.status == job_pb2.JOB_STATUS_COMPLETED, info.detail
    expected = make_result(payload, {"backend": "emulator", "format": "qasm3", "n_shots": 1000})
    assert setup.researcher.result(job_id) == expected
    assert info.result_raw_bytes == len(expected)
    assert info.actual_backend == "emulator"
    assert info.versions.agent == AGENT_VERSION
    assert info.versions.runner.startswith(runner_version)
    stamps = info.timestamps
    assert (
        stamps.queued_at.ToNanoseconds()
        <= stamps.dequeued_at.ToNanoseconds()
        <= stamps.execution_started_at.ToNanoseconds()
        <= stamps.execution_finished_at.ToNanoseconds()
        <= stamps.finished_at.ToNanoseconds()
    )
    log = setup.researcher.log(job_id)
    assert "echo " in log
    assert setup.researcher.result_log(job_id) == log
    completed = agent.wait_for("completed", job_id)
    assert completed["backend"] == "emulator"
    assert {"ran_seconds", "upload_seconds", "total_seconds"} <= completed.keys()


def test_a_failing_program_fails_the_job_with_its_stderr_tail(setup: Setup) -> None:
    setup.agent()
    job_id = setup.researcher.submit(b"x", parameters={"fail": "qubit 3 calibration expired"})
    info = setup.researcher.wait_terminal(job_id)
    assert info.status == job_pb2.JOB_STATUS_FAILED
    assert "exited with code 3" in info.detail
    assert info.detail.rstrip().endswith("qubit 3 calibration expired")
    log = setup.researcher.log(job_id)
    assert "step 0\n" in log and "qubit 3 calibration expired" in log


def test_a_job_over_its_timeout_is_killed_with_its_children(setup: Setup) -> None:
    agent = setup.agent("--kill-grace", "1")
    job_id = setup.researcher.submit(b"x", timeout_s=1, parameters={"child": "1", "sleep": "600"})
    info = setup.researcher.wait_terminal(job_id)
    assert info.status == job_pb2.JOB_STATUS_TIMEOUT, info.detail
    assert "exceeded its timeout of 1s" in info.detail
    log = setup.researcher.log(job_id)
    assert "exceeded its timeout of 1s; the job was killed" in log
    child = int(log.split("child pid=")[1].split()[0])
    assert ends_soon(child)
    agent.wait_for("timeout", job_id)


def test_heartbeats_keep_a_job_running_past_its_first_lease(
    setup_factory: Callable[..., Setup],
) -> None:
    setup = setup_factory(lease_seconds=2)
    agent = setup.agent()
    job_id = setup.researcher.submit(b"long", parameters={"sleep": "3"})
    info = setup.researcher.wait_terminal(job_id)
    assert info.status == job_pb2.JOB_STATUS_COMPLETED, info.detail
    assert info.attempt == 1
    assert setup.researcher.result(job_id) == b"result of long on gpus none"
    assert not [e for e in agent.events if e.get("event") == "heartbeat_failing"]


def test_cancel_while_running_stops_the_job(setup_factory: Callable[..., Setup]) -> None:
    setup = setup_factory(lease_seconds=3)
    agent = setup.agent()
    job_id = setup.researcher.submit(b"x", parameters={"gate": str(setup.tmp_path / "never")})
    agent.wait_for("running", job_id)
    setup.researcher.cancel(job_id)
    info = setup.researcher.wait_terminal(job_id)
    assert info.status == job_pb2.JOB_STATUS_CANCELLED
    agent.wait_for("cancelled", job_id)
    assert "cancelled by its owner" in setup.researcher.log(job_id)


def test_an_expired_upload_url_is_refreshed(setup_factory: Callable[..., Setup]) -> None:
    setup = setup_factory(upload_url_seconds=1)
    agent = setup.agent()
    job_id = setup.researcher.submit(b"late", parameters={"sleep": "1.2"}, save_job=True)
    info = setup.researcher.wait_terminal(job_id)
    assert info.status == job_pb2.JOB_STATUS_COMPLETED, info.detail
    assert setup.researcher.result(job_id) == b"result of late on gpus none"
    refreshed = agent.wait_for("upload_url_refreshed", job_id)
    assert refreshed["reason"] == "upload URL expired"
    # The refreshed URL is signed with the job's tags too.
    tags = setup.system.object_tags(f"jobs/{job_id}/attempts/1/result")
    assert tags == {"role": "developer", "save_job": "true"}


def test_a_job_survives_a_scheduler_restart(setup: Setup) -> None:
    agent = setup.agent()
    gate = setup.tmp_path / "gate"
    job_id = setup.researcher.submit(b"persistent", parameters={"gate": str(gate)})
    agent.wait_for("running", job_id)
    setup.system.restart()
    gate.touch()
    info = setup.researcher.wait_terminal(job_id)
    assert info.status == job_pb2.JOB_STATUS_COMPLETED, info.detail
    assert setup.researcher.result(job_id) == b"result of persistent on gpus none"
    agent.wait_for("completed", job_id)


def test_heartbeats_failing_past_the_lease_abandon_the_job(
    setup_factory: Callable[..., Setup],
) -> None:
    setup = setup_factory(lease_seconds=2)
    agent = setup.agent()
    params = {"gate": str(setup.tmp_path / "never"), "pidfile": str(setup.tmp_path / "job.pid")}
    job_id = setup.researcher.submit(b"x", parameters=params)
    agent.wait_for("running", job_id)
    setup.system.stop_scheduler()
    abandoned = agent.wait_for("abandoned", job_id)
    assert "heartbeats failed past the lease expiry" in abandoned["reason"]
    assert ends_soon(int((setup.tmp_path / "job.pid").read_text()))
    agent.wait_for("scheduler_unreachable")  # the slot polls again, and backs off
    setup.system.start_scheduler()
    agent.wait_for("scheduler_reachable")
    outages = [e for e in agent.events if e.get("event") == "scheduler_unreachable"]
    assert len(outages) == 1  # once per state change, not per attempt


def test_a_killed_agents_job_is_requeued_and_finished_by_another(
    setup_factory: Callable[..., Setup],
) -> None:
    setup = setup_factory(lease_seconds=2)
    job_id = setup.kill_agent_running_a_job(b"again")
    requeued = setup.researcher.watch_until(job_id, [job_pb2.JOB_STATUS_QUEUED])
    assert requeued.queue_position == 1  # back in the queue once its lease lapsed
    second = setup.agent(env=NO_GATE)
    info = setup.researcher.wait_terminal(job_id)
    assert info.status == job_pb2.JOB_STATUS_COMPLETED, info.detail
    assert info.attempt == 2
    assert setup.researcher.result(job_id) == b"result of again on gpus none"
    second.wait_for("completed", job_id)


def test_a_requeued_job_goes_to_an_agent_that_has_not_tried_it(
    setup_factory: Callable[..., Setup],
) -> None:
    # The scheduler holds a requeued job back from the agents that tried it for one
    # lease; the other agent must start within that time, hence a lease of 4 s.
    setup = setup_factory(lease_seconds=4)
    job_id = setup.kill_agent_running_a_job(b"elsewhere", agent_id="host-a")
    # host-a comes straight back (Restart=always) and polls while the job is requeued ...
    restarted = setup.agent(agent_id="host-a", env=NO_GATE)
    setup.researcher.watch_until(job_id, [job_pb2.JOB_STATUS_QUEUED])
    # ... but the job waits for host-b.
    other = setup.agent(agent_id="host-b", env=NO_GATE)
    info = setup.researcher.wait_terminal(job_id)
    assert info.status == job_pb2.JOB_STATUS_COMPLETED, info.detail
    assert info.attempt == 2
    assert not [e for e in restarted.events if e.get("job_id") == job_id]
    other.wait_for("completed", job_id)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_lets_the_running_job_finish_and_takes_no_new_one(
    setup: Setup, sig: signal.Signals
) -> None:
    agent = setup.agent("--grace", "20")
    gate = setup.tmp_path / "gate"
    running = setup.researcher.submit(b"first", parameters={"gate": str(gate)})
    agent.wait_for("running", running)
    agent.signal(sig)
    agent.wait_for("draining")
    waiting = setup.researcher.submit(b"second")
    gate.touch()
    assert agent.wait_exit() == 0
    assert setup.researcher.status(running).status == job_pb2.JOB_STATUS_COMPLETED
    assert setup.researcher.result(running) == b"result of first on gpus none"
    assert setup.researcher.status(waiting).status == job_pb2.JOB_STATUS_QUEUED


def test_sigterm_cancels_what_is_left_after_the_grace_period(setup: Setup) -> None:
    agent = setup.agent("--grace", "0.5", "--kill-grace", "1")
    job_id = setup.researcher.submit(b"x", parameters={"gate": str(setup.tmp_path / "never")})
    agent.wait_for("running", job_id)
    agent.signal(signal.SIGTERM)
    assert agent.wait_exit() == 0
    info = setup.researcher.status(job_id)
    assert info.status == job_pb2.JOB_STATUS_CANCELLED
    assert "did not finish within its grace period (0.5s)" in info.detail
    assert "did not finish within its grace period" in setup.researcher.log(job_id)
    agent.wait_for("grace_expired")


def test_two_slots_run_two_jobs_at_once_each_with_its_gpu(setup: Setup) -> None:
    setup.agent("--gpus", "0,1")
    barrier = setup.tmp_path / "barrier"
    barrier.mkdir()
    params = {"barrier": str(barrier), "parties": "2"}
    jobs = [setup.researcher.submit(f"job{i}".encode(), parameters=params) for i in range(2)]
    results = set()
    for job_id in jobs:
        info = setup.researcher.wait_terminal(job_id)
        assert info.status == job_pb2.JOB_STATUS_COMPLETED, info.detail
        results.add(setup.researcher.result(job_id).rsplit(b" ", 1)[1])
    assert results == {b"0", b"1"}


def test_the_python_runner_survives_a_function_that_segfaults_or_never_returns(
    setup: Setup,
) -> None:
    agent = setup.agent("--kill-grace", "1", runner=PYTHON_FUNCTION)
    crashed = setup.researcher.submit(b"x", parameters={"crash": "segfault"})
    info = setup.researcher.wait_terminal(crashed)
    assert info.status == job_pb2.JOB_STATUS_FAILED, info.detail
    assert "killed by SIGSEGV" in info.detail
    assert "Segmentation fault" in setup.researcher.log(crashed)

    pidfile = setup.tmp_path / "hung.pid"
    hung = setup.researcher.submit(b"x", timeout_s=1, parameters={"hang": str(pidfile)})
    info = setup.researcher.wait_terminal(hung)
    assert info.status == job_pb2.JOB_STATUS_TIMEOUT, info.detail
    assert ends_soon(int(pidfile.read_text()))

    fine = setup.researcher.submit(b"fine")
    info = setup.researcher.wait_terminal(fine)
    assert info.status == job_pb2.JOB_STATUS_COMPLETED, info.detail
    assert setup.researcher.result(fine) == b"python result of fine"
    assert agent.process.poll() is None
    assert agent.wait_for("completed", fine)["slot"] == 0


def test_an_unreachable_scheduler_at_start_is_one_line_and_exit_1(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("some-token")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "executor_agent",
            "--scheduler",
            "127.0.0.1:1",
            "--backend",
            "qpu",
            "--token-file",
            str(token),
            "--connect-timeout",
            "0.5",
            "--",
            "cat",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "cannot reach the scheduler at 127.0.0.1:1 within 0.5s" in done.stderr


def test_a_refused_token_stops_the_agent_with_exit_1(setup: Setup, tmp_path: Path) -> None:
    bad = tmp_path / "bad-token"
    bad.write_text("not-a-valid-token")
    agent = AgentProcess(setup.system, "--token-file", str(bad), *PROGRAM)
    setup.agents.append(agent)
    assert agent.wait_exit() == 1
    fatal = agent.wait_for("fatal")
    assert "UNAUTHENTICATED" in fatal["message"]
    assert "not-a-valid-token" not in agent.log_text()


def _start_failure(setup: Setup, tmp_path: Path, *args: str, backend: str = "emulator") -> str:
    """The agent's stderr when it must refuse to start: exit 1, one line, no poll."""
    stderr = tmp_path / "agent-stderr"
    agent = AgentProcess(setup.system, *args, backend=backend, stderr_path=stderr)
    setup.agents.append(agent)
    assert agent.wait_exit(timeout_s=30) == 1
    assert not any(entry.get("event") == "started" for entry in agent.events)
    lines = stderr.read_text().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_backend_the_scheduler_does_not_know_stops_the_agent_at_start(
    setup: Setup, tmp_path: Path
) -> None:
    line = _start_failure(setup, tmp_path, *PROGRAM, backend="no-such-backend")
    assert "'no-such-backend'" in line and "--backend" in line
    assert "emulator, qpu" in line  # what it could have been


@pytest.mark.parametrize(
    "function", ["no_such_module_anywhere:run", "examples.echo_function:no_such_function"]
)
def test_a_python_function_that_cannot_be_loaded_stops_the_agent_at_start(
    setup: Setup, tmp_path: Path, function: str
) -> None:
    line = _start_failure(setup, tmp_path, "--runner", "python", "--python-function", function)
    assert function in line and "--python-function" in line
