"""Berth as real processes on loopback, for the replica, crash and dependency-fault tests.

The AWS emulator, the token database, scheduler replicas (`python -m
scheduler`) and executor agents (`python -m executor_agent`) each run as a
subprocess; a thread reads each one's output into memory and a file, and
tests wait for lines, not for time. Agents run a shell one-liner that appends
the job id to a file of their own before echoing the payload back, so a test
counts executions where they happen.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from berth.scheduler.v1 import job_pb2, submission_pb2

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import provision
from scheduler.backend_status.backend_status import render_backend_status
from scheduler.blob_store.s3_blob_store import S3BlobStore
from scheduler.dev.dev_stack import DevNames, dev_backend_status
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler_client.client import Client
from scheduler_client.job_info import JobStatus
from tests.grpc_helpers import Submitter
from token_database.registry import TokenRegistry
from token_database.token_store import DynamoDbTokenStore

ROOT = Path(__file__).resolve().parent.parent
REGION = "eu-west-1"
START_TIMEOUT_S = 60.0
# Appends the job id to the file named by $0, then echoes the payload as the result.
RECORDING_JOB = 'echo "$BERTH_JOB_ID" >> "$0"; cat'


class LoggedProcess:
    """A subprocess whose merged stdout/stderr is kept, line by line."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = log_path
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.log_path.open("a") as copy:
            for line in self.process.stdout:
                copy.write(line)
                copy.flush()
                with self._changed:
                    self.lines.append(line.rstrip("\n"))
                    self._changed.notify_all()
        with self._changed:
            self.lines.append("<exited>")
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout_s: float = START_TIMEOUT_S) -> re.Match[str]:
        """The first output line matching `pattern` (a regex), waiting for it if need be."""
        regex = re.compile(pattern)
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found[:] = [m for line in self.lines if (m := regex.search(line))]
            return bool(found) or "<exited>" in self.lines

        with self._changed:
            self._changed.wait_for(seen, timeout_s)
        if not found:
            raise AssertionError(f"{self.name} never logged /{pattern}/; see {self.log_path}")
        return found[0]

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        with self._changed:
            return sum(1 for line in self.lines if regex.search(line))

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(10)


def emulator_process(log_path: Path) -> tuple[LoggedProcess, str]:
    process = LoggedProcess(
        "emulator", [sys.executable, "-m", "tests.emulator_process"], log_path, {}
    )
    endpoint = process.wait_for(r"emulator serving on (http://\S+)").group(1)
    return process, endpoint


class SchedulerProcess(LoggedProcess):
    def __init__(self, cluster: Cluster, index: int, ports: tuple[int, int]) -> None:
        names, config = cluster.names, cluster.scheduler_options
        argv = [
            *(sys.executable, "-m", "scheduler", "--endpoint", cluster.endpoint),
            *("--region", REGION, "--bind-host", "127.0.0.1", "--log-format", "json"),
            *("-t", cluster.token_database_address, "--grace-seconds", "1"),
            *("--job_bucket_name_key", f"/{names.prefix}/job_bucket_name"),
            *("--job_table_name_key", f"/{names.prefix}/job_table_name"),
            *("--backend_status_parameter_name", f"/{names.prefix}/backend_status"),
            *("--port-for-submission", str(ports[0]), "--port-for-execution", str(ports[1])),
            *(item for flag, value in config.items() for item in (flag, value)),
        ]
        env = {
            "SCHEDULER_METRICS_PORT": "-1",
            "SCHEDULER_MAX_CONCURRENT_JOBS_ADMIN": "100000",
            "SCHEDULER_RATE_LIMIT_ADMIN": "0",
        }
        super().__init__(f"scheduler-{index}", argv, cluster.work / f"scheduler-{index}.log", env)
        ready = self.wait_for(r"scheduler listening: submission port (\d+), execution port (\d+)")
        self.ports = (int(ready.group(1)), int(ready.group(2)))
        self.submission_address = f"127.0.0.1:{self.ports[0]}"
        self.execution_address = f"127.0.0.1:{self.ports[1]}"

    @contextmanager
    def user(self, token: str) -> Iterator[Submitter]:
        channel = grpc.insecure_channel(self.submission_address)
        try:
            yield Submitter(channel, token)
        finally:
            channel.close()


class CountingAgent(LoggedProcess):
    """An executor agent that records each job it runs in `executions_path`."""

    def __init__(
        self,
        cluster: Cluster,
        index: int,
        schedulers: Iterable[SchedulerProcess],
        options: Iterable[str] = (),
        job: str = RECORDING_JOB,
    ) -> None:
        """`job`: a shell script run with the executions file as $0 (records, then runs)."""
        # Several addresses: gRPC's pick_first uses the first that answers, and moves on
        # when it dies, as it would across the addresses of one DNS name.
        target = "ipv4:" + ",".join(s.execution_address for s in schedulers)
        self.executions_path = cluster.work / f"executions-{index}.txt"
        self.executions_path.touch()
        argv = [
            *(sys.executable, "-m", "executor_agent", "--scheduler", target),
            *("--backend", "emulator", "--token-file", str(cluster.tokens_file)),
            *("--agent-id", f"agent-{index}", "--log-format", "json", "--poll-wait", "5"),
            *("--connect-timeout", "30", "--grace", "1", *options),
            *("--", "sh", "-c", job, str(self.executions_path)),
        ]
        super().__init__(f"agent-{index}", argv, cluster.work / f"agent-{index}.log", {})

    def executed(self) -> list[str]:
        return self.executions_path.read_text().split()


class Cluster:
    """Storage provisioned on `endpoint`, a token database, and the processes started."""

    def __init__(
        self, endpoint: str, work: Path, scheduler_options: dict[str, str] | None = None
    ) -> None:
        self.endpoint = endpoint
        self.work = work
        self.scheduler_options = {
            "--lease-seconds": "5",
            "--replica-sync-seconds": "1",
            **(scheduler_options or {}),
        }
        self.names = DevNames(prefix=f"p{uuid.uuid4().hex[:12]}")
        settings = AwsSettings(region=REGION, endpoint=endpoint)
        provision(
            settings,
            table=self.names.table,
            bucket=self.names.bucket,
            bucket_key_param=f"/{self.names.prefix}/job_bucket_name",
            table_key_param=f"/{self.names.prefix}/job_table_name",
            backend_status_param=f"/{self.names.prefix}/backend_status",
            backend_status_toml=render_backend_status(dev_backend_status()),
            token_table=self.names.token_table,
        )
        registry = TokenRegistry(
            DynamoDbTokenStore(make_client("dynamodb", settings), self.names.token_table)
        )
        roles = ("admin", "developer", "executor")
        self.tokens = {role: registry.create_token(f"test-{role}", role)[0] for role in roles}
        self.tokens_file = work / "tokens.json"
        self.tokens_file.write_text(json.dumps(self.tokens))
        self.schedulers: list[SchedulerProcess] = []
        self.agents: list[CountingAgent] = []
        self.token_database: LoggedProcess | None = None
        self.token_database_address = ""
        self.start_token_database()

    def start_token_database(self, port: int = 0) -> LoggedProcess:
        argv = [
            *(sys.executable, "-m", "token_database", "--endpoint", self.endpoint),
            *("--region", REGION, "--table", self.names.token_table, "--log-format", "json"),
            *("serve", "--address", f"127.0.0.1:{port}", "--grace-seconds", "0.5"),
        ]
        process = LoggedProcess("token-database", argv, self.work / "token-database.log", {})
        bound = int(process.wait_for(r"token database serving on .*\(port (\d+)\)").group(1))
        self.token_database = process
        self.token_database_address = f"127.0.0.1:{bound}"
        return process

    def start_scheduler(self, ports: tuple[int, int] = (0, 0)) -> SchedulerProcess:
        scheduler = SchedulerProcess(self, len(self.schedulers), ports)
        self.schedulers.append(scheduler)
        return scheduler

    def start_agent(
        self, *schedulers: SchedulerProcess, options: Iterable[str] = (), job: str = RECORDING_JOB
    ) -> CountingAgent:
        agent = CountingAgent(self, len(self.agents), schedulers, options, job)
        self.agents.append(agent)
        return agent

    def wait_agents_ready(self) -> None:
        for agent in self.agents:
            agent.wait_for(r"serving backend")

    def executions(self) -> Counter[str]:
        return Counter(job_id for agent in self.agents for job_id in agent.executed())

    def wait_executed(self, count: int, timeout_s: float = 120.0) -> None:
        poll_until(lambda: sum(self.executions().values()) >= count, timeout_s, f"{count} runs")

    def wait_completed(
        self, via: SchedulerProcess, job_ids: list[str], timeout_s: float = 180.0
    ) -> None:
        """Until every job in `job_ids` is COMPLETED, as the admin's ListJobs shows.

        Listing hundreds of jobs is slow in the emulator, so the agents' own
        records say when to start asking.
        """
        wanted = set(job_ids)
        poll_until(lambda: wanted <= set(self.executions()), timeout_s, "every job to run")
        with via.user(self.tokens["admin"]) as admin:
            poll_until(
                lambda: wanted <= completed_jobs(admin),
                timeout_s,
                f"{len(wanted)} jobs to complete",
            )

    def stores(self) -> tuple[DynamoDbJobStore, S3BlobStore]:
        """The job table and bucket, as the scheduler sees them."""
        settings = AwsSettings(region=REGION, endpoint=self.endpoint)
        return (
            DynamoDbJobStore(make_client("dynamodb", settings), self.names.table),
            S3BlobStore(make_client("s3", settings), self.names.bucket),
        )

    def inputs_without_records(self) -> set[str]:
        store, blobs = self.stores()
        inputs = [stored.job_id for stored in blobs.list_inputs(time.time() + 60)]
        return set(inputs) - set(store.get_many(inputs))

    def close(self) -> None:
        for process in [*self.agents, *self.schedulers, self.token_database]:
            if process is not None:
                process.kill()


def completed_jobs(user: Submitter) -> set[str]:
    found: set[str] = set()
    token = ""
    while True:
        request = submission_pb2.ListJobsRequest(
            status=job_pb2.JOB_STATUS_COMPLETED, page_size=250, page_token=token
        )
        page = user.stub.ListJobs(request, metadata=user.metadata, timeout=30)
        found.update(job.job_id for job in page.jobs)
        token = page.next_page_token
        if not token:
            return found


def poll_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """For conditions only visible by asking (files, ListJobs): five times a second."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.2)


def submit_all(scheduler: SchedulerProcess, token: str, count: int) -> list[str]:
    """`count` small jobs through `scheduler`, eight at a time; their ids in order."""
    with scheduler.user(token) as user, ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda n: user.submit(f"job {n}".encode()), range(count)))


def berth(
    scheduler: SchedulerProcess, cluster: Cluster, *args: str, exit_code: int = 0
) -> dict[str, Any]:
    """`berth ... --json` in a fresh process, with the developer token; its JSON answer
    (`exit_code`: what the command must exit with)."""
    ran = subprocess.run(
        [sys.executable, "-m", "scheduler_client", *args, "--json"],
        cwd=ROOT,
        env={
            **os.environ,
            "BERTH_ADDRESS": scheduler.submission_address,
            "BERTH_TOKEN": cluster.tokens["developer"],
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == exit_code, ran.stderr
    document: dict[str, Any] = json.loads(ran.stdout)
    return document


def status_of(scheduler: SchedulerProcess, cluster: Cluster, job_id: str) -> JobStatus:
    with Client(scheduler.submission_address, cluster.tokens["developer"]) as client:
        return client.job(job_id).status().status


def wait_status(
    scheduler: SchedulerProcess, cluster: Cluster, job_id: str, status: JobStatus
) -> None:
    """Asked of the job's owner (an admin's ListJobs lists the admin's own jobs)."""
    poll_until(lambda: status_of(scheduler, cluster, job_id) is status, 60, f"{job_id} {status}")
