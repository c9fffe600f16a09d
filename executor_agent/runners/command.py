"""The command runner: any program, payload in and result out through files or pipes.

`{input}` in the arguments becomes the path of a file holding the payload
(otherwise the payload is the program's stdin); `{output}` becomes the path
the program writes its result to (otherwise the result is its stdout, and
only stderr goes to the log). Settings arrive as JSON in BERTH_JOB_SETTINGS.
The program runs in an empty directory of its own, removed after the job;
relative paths in the command are taken from where the agent was started.
Exit code 0 is success; anything else is a failure whose error is the tail
of the program's stderr.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from executor_agent.runners import RunRequest, RunResult
from executor_agent.runners.process import (
    ProcessSpec,
    describe_exit,
    job_environment,
    run_process,
)

INPUT = "{input}"
OUTPUT = "{output}"


def job_env(request: RunRequest, input_path: Path, output_path: Path) -> dict[str, str]:
    return {
        "BERTH_JOB_ID": request.job_id,
        "BERTH_JOB_SETTINGS": json.dumps(dict(request.settings), sort_keys=True),
        "BERTH_INPUT": str(input_path),
        "BERTH_OUTPUT": str(output_path),
        **request.env,
    }


def failure(what: str, returncode: int, request: RunRequest) -> RunResult:
    """First line: what happened and the last line of output; then the tail of the output."""
    tail = request.log.tail_text()
    error = f"{what} {describe_exit(returncode)}"
    if not tail:
        return RunResult(False, error=error)
    last_line = tail.rsplit("\n", 1)[-1]
    return RunResult(False, error=f"{error}: {last_line}\nlast lines of its output:\n{tail}")


def anchor_relative_paths(argv: Sequence[str], base: Path) -> tuple[str, ...]:
    """Jobs run in a private directory, so `examples/prog.py` would no longer be found there:
    arguments naming an existing file or directory relative to `base` are made absolute."""
    return tuple(str((base / arg).resolve()) if _names_a_path(arg, base) else arg for arg in argv)


def _names_a_path(arg: str, base: Path) -> bool:
    if not arg or arg.startswith("-") or "\n" in arg or Path(arg).is_absolute():
        return False
    try:
        return (base / arg).exists()
    except OSError:  # not a possible file name at all (too long, ...)
        return False


class CommandRunner:
    def __init__(
        self, argv: Sequence[str], kill_grace_s: float, version: str | None = None
    ) -> None:
        self._argv = anchor_relative_paths(argv, Path.cwd())
        self._kill_grace_s = kill_grace_s
        self._version = version or ("command:" + " ".join([Path(argv[0]).name, *argv[1:]]))[:64]

    @property
    def version(self) -> str:
        return self._version

    async def run(self, request: RunRequest) -> RunResult:
        input_path = request.work_dir / "input"
        output_path = request.work_dir / "output"
        stdout_path = request.work_dir / "stdout"
        input_path.write_bytes(request.payload)
        uses_input = any(INPUT in arg for arg in self._argv)
        uses_output = any(OUTPUT in arg for arg in self._argv)
        argv = [
            arg.replace(INPUT, str(input_path)).replace(OUTPUT, str(output_path))
            for arg in self._argv
        ]
        spec = ProcessSpec(
            argv=argv,
            cwd=request.work_dir,
            env=job_environment(job_env(request, input_path, output_path)),
            stdin_path=None if uses_input else input_path,
            stdout_path=None if uses_output else stdout_path,
        )
        try:
            returncode = await run_process(spec, request.log, self._kill_grace_s)
        except OSError as error:  # not found, not executable
            return RunResult(False, error=f"cannot start {argv[0]!r}: {error.strerror}")
        if returncode != 0:
            return failure(f"program {Path(argv[0]).name}", returncode, request)
        result_path = output_path if uses_output else stdout_path
        if not result_path.exists():
            return RunResult(False, error=f"program exited with code 0 but wrote no {OUTPUT} file")
        return RunResult(True, result=result_path.read_bytes())
