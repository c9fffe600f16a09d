"""The python runner: `module:function(payload: bytes, settings: dict) -> bytes`, in a child.

The function runs in a fresh interpreter (python_child.py), so a segfault,
an endless loop, a leak or a stray `os._exit` ends only that process: the
agent reports the failure or the timeout and takes the next job. Modules are
found on --python-path, then the directory the agent was started from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from executor_agent.runners import RunRequest, RunResult
from executor_agent.runners.command import failure, job_env
from executor_agent.runners.process import ProcessSpec, job_environment, run_process

CHILD = Path(__file__).with_name("python_child.py")
CHECK_TIMEOUT_S = 60.0  # importing a large module (a simulator, say) can take a while


class PythonRunner:
    def __init__(
        self,
        function: str,
        python_path: Sequence[Path],
        kill_grace_s: float,
        version: str | None = None,
        interpreter: str = sys.executable,
    ) -> None:
        self._function = function
        self._python_path = [str(path) for path in python_path] + [os.getcwd()]
        self._kill_grace_s = kill_grace_s
        self._interpreter = interpreter
        self._version = version or f"python:{function}"[:64]

    @property
    def version(self) -> str:
        return self._version

    def check_loadable(self) -> None:
        """At start: a function that cannot be imported would fail every job, so refuse now."""
        env = {**os.environ, "PYTHONPATH": self._python_path_for(os.environ)}
        done = subprocess.run(
            [self._interpreter, str(CHILD), "--check", self._function],
            env=env,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            reason = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise ValueError(f"--python-function {self._function}: {reason[0]}")

    def _python_path_for(self, env: Mapping[str, str]) -> str:
        existing = env.get("PYTHONPATH")
        return os.pathsep.join(self._python_path + ([existing] if existing else []))

    async def run(self, request: RunRequest) -> RunResult:
        input_path = request.work_dir / "input"
        output_path = request.work_dir / "output"
        input_path.write_bytes(request.payload)
        env = job_environment(job_env(request, input_path, output_path))
        env["PYTHONPATH"] = self._python_path_for(env)
        env["PYTHONUNBUFFERED"] = "1"  # prints reach the log even if the process dies
        spec = ProcessSpec(
            argv=[self._interpreter, str(CHILD), self._function, str(input_path), str(output_path)],
            cwd=request.work_dir,
            env=env,
        )
        returncode = await run_process(spec, request.log, self._kill_grace_s)
        if returncode != 0:
            return failure(f"python function {self._function}", returncode, request)
        if not output_path.exists():  # the function called sys.exit(0) or os._exit(0)
            return RunResult(False, error=f"{self._function} ended without returning a result")
        return RunResult(True, result=output_path.read_bytes())
