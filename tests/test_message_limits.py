"""What a port reads is bounded by the largest job, so oversized messages cost little memory.

gRPC reads a whole message before anything can refuse it; each port's receive
limit is therefore the largest SCHEDULER_MAX_JOB_BYTES_<ROLE> plus protocol
overhead, and hostile 100 MB messages keep the scheduler's peak RSS within
twice its idle RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from berth.scheduler.v1 import job_pb2, submission_pb2, submission_pb2_grpc
from google.protobuf import duration_pb2

from scheduler.config import MIB
from scheduler.domain.jobs import Role
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Submitter, clients, rpc_error

ROOT = Path(__file__).resolve().parent.parent
MB = 1000 * 1000


def test_a_message_over_the_largest_job_is_refused_before_it_is_read(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    system = make_berth_system(max_job_bytes=dict.fromkeys(Role, MIB))
    with clients(system) as (submission, _):
        admin = Submitter(submission, system.tokens["admin"])
        admin.submit(b"x" * (MIB - 1024))  # a job at the limit still fits
        error = rpc_error(lambda: admin.submit(b"x" * (5 * MIB)))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def _memory(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for process {pid}")


@pytest.fixture
def scheduler_process(emulator: str, tmp_path: Path) -> Iterator[tuple[int, str, dict[str, str]]]:
    """A development scheduler as its own process: (pid, submission address, tokens)."""
    tokens = tmp_path / "tokens.json"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "scheduler", "--dev", "--endpoint", emulator),
            *("--region", "us-east-1", "--metrics-port", "-1", "--dev-tokens-file", str(tokens)),
            *("--port-for-submission", "0", "--port-for-execution", "0"),
        ],
        cwd=ROOT,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    address = ""
    for line in process.stdout:
        if line.strip().startswith("submission"):
            address = "127.0.0.1:" + line.split("localhost:")[1].split()[0]
        if "Press Ctrl-C" in line:
            break
    assert address, "the scheduler never printed its ports"
    drain = threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True)
    drain.start()
    yield process.pid, address, json.loads(tokens.read_text())
    process.terminate()
    process.wait(30)


def _submit(stub: submission_pb2_grpc.SubmissionServiceStub, token: str, size: int) -> str:
    request = submission_pb2.SubmitJobRequest(
        job=job_pb2.Job(
            program=job_pb2.Program(format="qasm3", payload=b"x" * size),
            settings=job_pb2.JobSettings(
                backend="emulator", n_shots=1, timeout=duration_pb2.Duration(seconds=60)
            ),
        )
    )
    metadata = (("authorization", f"Bearer {token}"),)
    try:
        stub.SubmitJob(request, metadata=metadata, timeout=120)
    except grpc.RpcError as error:
        return str(error.code().name)
    return "OK"


@pytest.mark.slow  # a scheduler process and 1.2 GB of hostile messages: about 50 s
def test_hundred_megabyte_messages_keep_peak_rss_within_twice_idle(
    scheduler_process: tuple[int, str, dict[str, str]],
) -> None:
    pid, address, tokens = scheduler_process
    options = [("grpc.max_send_message_length", 200 * MB)]
    with grpc.insecure_channel(address, options=options) as channel:
        stub = submission_pb2_grpc.SubmissionServiceStub(channel)
        for _ in range(5):  # warm-up: connections, caches and pools as in service
            assert _submit(stub, tokens["admin"], MB) == "OK"
        idle = _memory(pid, "VmRSS")
        with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # the kernel's peak RSS (VmHWM) starts again from now
        sizes = [100 * MB if n % 2 == 0 else MB for n in range(24)]
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda size: _submit(stub, tokens["admin"], size), sizes))
        peak = _memory(pid, "VmHWM")
    assert codes == ["RESOURCE_EXHAUSTED" if size > MB else "OK" for size in sizes]
    assert peak <= 2 * idle, f"peak RSS {peak / MB:.0f} MB, idle {idle / MB:.0f} MB"
