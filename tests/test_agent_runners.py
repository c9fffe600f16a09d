"""The command and python runners: results, failures, and killing whole process groups.

Programs and functions here are real processes. A test that must act while a
job runs waits for the job to say it started, through a FIFO (an event, not
a sleep).
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from examples.echo_program import make_result
from executor_agent.job_log import JobLog
from executor_agent.runners import Runner, RunRequest, RunResult
from executor_agent.runners.command import CommandRunner
from executor_agent.runners.python_runner import PythonRunner
from tests.agent_process import ends_soon

PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def request(tmp_path: Path, payload: bytes = b"", **settings: Any) -> RunRequest:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    base: dict[str, Any] = {"job_id": "job-1", "backend": "emulator", "n_shots": 10}
    return RunRequest(
        job_id="job-1",
        payload=payload,
        settings={**base, **settings},
        work_dir=work,
        log=JobLog(1024 * 1024),
        env={"CUDA_VISIBLE_DEVICES": "3"},
    )


async def read_fifo(path: Path, timeout_s: float = 15.0) -> str:
    """What the job writes to the FIFO once it is running; unblocks a reader if it never does."""
    reader = asyncio.ensure_future(asyncio.to_thread(path.read_text))
    try:
        return await asyncio.wait_for(asyncio.shield(reader), timeout_s)
    except TimeoutError:
        with path.open("w"):
            pass  # let the blocked reader thread finish
        await reader
        raise AssertionError("the job never signalled that it started") from None


async def cancel_when_started(runner: Runner, req: RunRequest, fifo: Path) -> str:
    """Cancel the run (as a timeout or an owner's cancel does) once the job says it started."""
    task = asyncio.create_task(runner.run(req))
    started = await read_fifo(fifo)
    task.cancel()
    await asyncio.wait({task})
    assert task.cancelled()
    return started


# -- command runner -----------------------------------------------------------------------


async def test_command_payload_on_stdin_result_on_stdout(tmp_path: Path) -> None:
    script = "import sys,os; d=sys.stdin.buffer.read(); sys.stdout.buffer.write(d.upper())"
    result = await CommandRunner([PY, "-c", script], 1.0).run(request(tmp_path, b"hello"))
    assert result == RunResult(True, result=b"HELLO")


async def test_command_with_input_and_output_files_settings_and_gpus(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, os, sys
        settings = json.loads(os.environ["BERTH_JOB_SETTINGS"])
        data = open(sys.argv[1], "rb").read()
        print("to the log")
        gpus = os.environ["CUDA_VISIBLE_DEVICES"]
        out = {"n": settings["n_shots"], "gpus": gpus, "len": len(data)}
        open(sys.argv[2], "w").write(json.dumps(out, sort_keys=True))
        """
    )
    req = request(tmp_path, b"12345", n_shots=7)
    result = await CommandRunner([PY, "-c", script, "{input}", "{output}"], 1.0).run(req)
    assert result.succeeded, result.error
    assert result.result == b'{"gpus": "3", "len": 5, "n": 7}'
    assert b"to the log" in req.log.output


async def test_the_bundled_echo_program_gives_a_deterministic_result(tmp_path: Path) -> None:
    argv = [PY, str(ROOT / "examples" / "echo_program.py"), "{input}", "{output}"]
    first = await CommandRunner(argv, 1.0).run(request(tmp_path, b"OPENQASM 3;", n_shots=100))
    assert first.succeeded, first.error
    settings = {"backend": "emulator", "n_shots": 100, "job_id": "job-1"}
    assert first.result == make_result(b"OPENQASM 3;", settings)


async def test_command_failure_reports_the_tail_of_stderr(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        for i in range(100):
            print(f"progress {i}", file=sys.stderr)
        print("calibration data missing for qubit 7", file=sys.stderr)
        sys.exit(3)
        """
    )
    result = await CommandRunner([PY, "-c", script], 1.0).run(request(tmp_path))
    assert not result.succeeded
    assert result.error.startswith("program ")
    assert "exited with code 3" in result.error
    assert result.error.rstrip().endswith("calibration data missing for qubit 7")
    assert "progress 99" in result.error
    assert "progress 0\n" not in result.error  # only the tail


async def test_command_that_cannot_start(tmp_path: Path) -> None:
    result = await CommandRunner(["/no/such/program"], 1.0).run(request(tmp_path))
    assert not result.succeeded
    assert "cannot start '/no/such/program'" in result.error


async def test_output_file_missing_is_a_failure(tmp_path: Path) -> None:
    result = await CommandRunner([PY, "-c", "pass", "{output}"], 1.0).run(request(tmp_path))
    assert not result.succeeded
    assert "wrote no {output} file" in result.error


async def test_cancel_kills_the_whole_process_group(tmp_path: Path) -> None:
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    script = textwrap.dedent(
        f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open({str(fifo)!r}, "w") as f:
            f.write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(600)
        """
    )
    req = request(tmp_path)
    started = await cancel_when_started(CommandRunner([PY, "-c", script], 5.0), req, fifo)
    pids = [int(pid) for pid in started.split()]
    assert all(ends_soon(pid) for pid in pids)


async def test_a_program_ignoring_sigterm_is_killed_after_the_kill_grace(tmp_path: Path) -> None:
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    script = textwrap.dedent(
        f"""
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open({str(fifo)!r}, "w") as f:
            f.write(str(os.getpid()))
        while True:
            time.sleep(1)
        """
    )
    runner = CommandRunner([PY, "-c", script], kill_grace_s=0.2)
    started = await cancel_when_started(runner, request(tmp_path), fifo)
    assert ends_soon(int(started))


async def test_background_leftovers_are_killed_when_the_program_ends(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(child.pid)
        """
    )
    result = await CommandRunner([PY, "-c", script], 1.0).run(request(tmp_path))
    assert result.succeeded
    assert ends_soon(int(result.result))


# -- python runner ------------------------------------------------------------------------

FUNCTIONS = """
import ctypes, os, time

def reverse(payload, settings):
    print("reversing", len(payload), "bytes for", settings["backend"])
    return payload[::-1]

def raises(payload, settings):
    raise ValueError("the payload is not a circuit")

def segfault(payload, settings):
    ctypes.string_at(0)

def aborts(payload, settings):
    os.abort()

def never_returns(payload, settings):
    with open(settings["parameters"]["fifo"], "w") as f:
        f.write(str(os.getpid()))
    while True:
        time.sleep(1)

def returns_text(payload, settings):
    return "not bytes"
"""


@pytest.fixture
def functions(tmp_path: Path) -> Path:
    directory = tmp_path / "functions"
    directory.mkdir()
    (directory / "jobfuncs.py").write_text(FUNCTIONS)
    return directory


def python_runner(functions: Path, name: str) -> PythonRunner:
    return PythonRunner(f"jobfuncs:{name}", [functions], kill_grace_s=1.0)


async def test_python_function_result_and_prints_in_the_log(
    tmp_path: Path, functions: Path
) -> None:
    req = request(tmp_path, b"abc")
    result = await python_runner(functions, "reverse").run(req)
    assert result == RunResult(True, result=b"cba")
    assert b"reversing 3 bytes for emulator" in req.log.output


async def test_the_bundled_echo_function_matches_the_echo_program(tmp_path: Path) -> None:
    runner = PythonRunner("examples.echo_function:run", [ROOT], kill_grace_s=1.0)
    result = await runner.run(request(tmp_path, b"OPENQASM 3;", n_shots=100))
    assert result.succeeded, result.error
    settings = {"backend": "emulator", "n_shots": 100}
    assert result.result == make_result(b"OPENQASM 3;", settings)


async def test_python_exception_fails_with_the_traceback_tail(
    tmp_path: Path, functions: Path
) -> None:
    result = await python_runner(functions, "raises").run(request(tmp_path))
    assert not result.succeeded
    assert "jobfuncs:raises exited with code 1" in result.error
    assert result.error.rstrip().endswith("ValueError: the payload is not a circuit")


@pytest.mark.parametrize(
    ("function", "signal_name"), [("segfault", "SIGSEGV"), ("aborts", "SIGABRT")]
)
async def test_python_runner_survives_a_crashing_function(
    tmp_path: Path, functions: Path, function: str, signal_name: str
) -> None:
    req = request(tmp_path)
    result = await python_runner(functions, function).run(req)
    assert not result.succeeded
    assert f"killed by {signal_name}" in result.error
    if signal_name == "SIGSEGV":
        assert b"Segmentation fault" in req.log.output  # faulthandler's traceback
    # ... and the next job runs normally.
    next_job = tmp_path / "next"
    next_job.mkdir()
    assert await python_runner(functions, "reverse").run(request(next_job, b"ok")) == RunResult(
        True, result=b"ko"
    )


async def test_python_function_that_never_returns_is_killed(
    tmp_path: Path, functions: Path
) -> None:
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    req = request(tmp_path, parameters={"fifo": str(fifo)})
    started = await cancel_when_started(python_runner(functions, "never_returns"), req, fifo)
    assert ends_soon(int(started))


async def test_python_function_must_return_bytes(tmp_path: Path, functions: Path) -> None:
    result = await python_runner(functions, "returns_text").run(request(tmp_path))
    assert not result.succeeded
    assert "returned str, it must return bytes" in result.error


async def test_python_function_that_cannot_be_imported(tmp_path: Path, functions: Path) -> None:
    result = await PythonRunner("no_such_module:run", [functions], 1.0).run(request(tmp_path))
    assert not result.succeeded
    assert "cannot load no_such_module:run" in result.error
