"""The executor agent as a real subprocess, and a researcher's client, for end-to-end tests.

The agent runs with `--log-format json`; a thread reads its stdout, and tests
wait for log events ("running", "completed", "draining", ...) instead of
sleeping. The client submits with the generated SubmissionService stub and
a developer token, and follows jobs with WatchJob.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import requests
from berth.scheduler.v1 import job_pb2, submission_pb2, submission_pb2_grpc
from google.protobuf import duration_pb2

if TYPE_CHECKING:
    from tests.berth_system import BerthSystem

ROOT = Path(__file__).resolve().parent.parent
Event = dict[str, Any]
TERMINAL = {
    job_pb2.JOB_STATUS_COMPLETED,
    job_pb2.JOB_STATUS_FAILED,
    job_pb2.JOB_STATUS_TIMEOUT,
    job_pb2.JOB_STATUS_CANCELLED,
}


class AgentProcess:
    def __init__(
        self,
        system: BerthSystem,
        *args: str,
        backend: str = "emulator",
        env: Mapping[str, str] | None = None,
        stderr_path: Path | None = None,
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "executor_agent",
            "--scheduler",
            system.execution_address,
            "--backend",
            backend,
            "--token-file",
            str(system.tokens_file),
            "--log-format",
            "json",
            "--poll-wait",
            "5",
            *args,
        ]
        self._stderr = (stderr_path or Path(os.devnull)).open("w")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.events: list[Event] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"message": line.rstrip("\n"), "event": "non-json"}
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()
        with self._changed:
            self.events.append({"event": "<eof>"})
            self._changed.notify_all()

    def wait_for(self, event: str, job_id: str | None = None, timeout_s: float = 20.0) -> Event:
        """The first log event named `event` (for `job_id`), waiting for it if need be."""

        def match(entry: Event) -> bool:
            return entry.get("event") == event and (job_id is None or entry.get("job_id") == job_id)

        return self.wait_until(match, f"{event} {job_id or ''}", timeout_s)

    def wait_until(
        self, predicate: Callable[[Event], bool], what: str, timeout_s: float = 20.0
    ) -> Event:
        found: list[Event] = []

        def ready() -> bool:
            found[:] = [entry for entry in self.events if predicate(entry)]
            return bool(found) or any(entry.get("event") == "<eof>" for entry in self.events)

        with self._changed:
            self._changed.wait_for(ready, timeout_s)
        if not found:
            raise AssertionError(f"agent never logged {what!r}; its log:\n{self.log_text()}")
        return found[0]

    def log_text(self) -> str:
        return "\n".join(str(entry.get("message", entry)) for entry in self.events)

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait_exit(self, timeout_s: float = 20.0) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(5)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._stderr.close()


class Researcher:
    """A user with a developer token, through the generated SubmissionService stub."""

    def __init__(self, system: BerthSystem) -> None:
        self._channel = grpc.insecure_channel(system.submission_address)
        self.stub = submission_pb2_grpc.SubmissionServiceStub(self._channel)
        self.metadata = (("authorization", f"Bearer {system.tokens['developer']}"),)

    def close(self) -> None:
        self._channel.close()

    def submit(
        self,
        payload: bytes,
        *,
        backend: str = "emulator",
        timeout_s: float = 60,
        shots: int = 100,
        parameters: Mapping[str, str] | None = None,
        save_job: bool = False,
    ) -> str:
        timeout = duration_pb2.Duration()
        timeout.FromNanoseconds(int(timeout_s * 1e9))
        job = job_pb2.Job(
            program=job_pb2.Program(format="qasm3", payload=payload),
            settings=job_pb2.JobSettings(
                backend=backend, n_shots=shots, timeout=timeout, parameters=parameters or {}
            ),
        )
        options = submission_pb2.SubmitOptions(save_job=save_job)
        request = submission_pb2.SubmitJobRequest(job=job, options=options)
        return self.stub.SubmitJob(request, metadata=self.metadata, timeout=10).job_id

    def status(self, job_id: str) -> submission_pb2.JobInfo:
        request = submission_pb2.GetJobStatusRequest(job_id=job_id)
        return self.stub.GetJobStatus(request, metadata=self.metadata, timeout=10)

    def cancel(self, job_id: str) -> submission_pb2.CancelJobResponse:
        request = submission_pb2.CancelJobRequest(job_id=job_id)
        return self.stub.CancelJob(request, metadata=self.metadata, timeout=10)

    def wait_terminal(self, job_id: str, timeout_s: float = 30.0) -> submission_pb2.JobInfo:
        """Follows WatchJob until the job ends."""
        request = submission_pb2.WatchJobRequest(job_id=job_id)
        for info in self.stub.WatchJob(request, metadata=self.metadata, timeout=timeout_s):
            if info.status in TERMINAL:
                return info
        raise AssertionError(f"WatchJob ended before job {job_id} did")

    def watch_until(
        self, job_id: str, statuses: Sequence[int], timeout_s: float = 30.0
    ) -> submission_pb2.JobInfo:
        request = submission_pb2.WatchJobRequest(job_id=job_id)
        for info in self.stub.WatchJob(request, metadata=self.metadata, timeout=timeout_s):
            if info.status in statuses:
                return info
        raise AssertionError(f"job {job_id} never reached {statuses}")

    def _result_links(self, job_id: str) -> submission_pb2.GetJobResultResponse:
        request = submission_pb2.GetJobResultRequest(job_id=job_id)
        return self.stub.GetJobResult(request, metadata=self.metadata, timeout=10)

    def result(self, job_id: str) -> bytes:
        return _download(self._result_links(job_id).result.url)

    def result_log(self, job_id: str) -> str:
        """The log through the link GetJobResult gives beside the result (COMPLETED jobs)."""
        return _download(self._result_links(job_id).log.url).decode()

    def log(self, job_id: str) -> str:
        """The log through GetJobLog, for a job of any outcome."""
        request = submission_pb2.GetJobLogRequest(job_id=job_id)
        link = self.stub.GetJobLog(request, metadata=self.metadata, timeout=10).log
        return _download(link.url).decode()


def _download(url: str) -> bytes:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return gzip.decompress(response.content)


def ends_soon(pid: int, timeout_s: float = 5.0) -> bool:
    """True once process `pid` has ended: the kernel signals it on a pidfd (no polling).

    A SIGKILL is delivered asynchronously, so a just-killed process may still be
    there for a moment; this waits for the exit itself.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout_s)
        return bool(readable)
    finally:
        os.close(fd)


def kill_group_of(pid: int) -> None:
    """Clean up a job process orphaned by a SIGKILLed agent."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
