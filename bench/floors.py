"""Floors: the same emulator and transport doing the least a scheduler call could do.

Each floor runs at the concurrency of the phase it is compared with, from the
same process and through the same client settings (`make_client`) as the
scheduler's own calls, so a ratio isolates what Berth adds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc

from bench.echo_server import METHOD
from bench.measurements import Row, summarise
from bench.process_meter import ProcessMeter, measure_usage
from bench.processes import ChildProcess, free_port
from bench.rpc_clients import RESULT, connect
from bench.stack import BenchStack
from bench.workers import Operation, run_closed_loop
from scheduler.aws.aws_settings import make_client
from scheduler.aws.provision import ensure_bucket, ensure_table
from scheduler.aws.table_definitions import jobs_table_definition
from scheduler.domain.jobs import Completion, JobRecord, JobStatus, Role
from scheduler.job_store.dynamodb_hot_transitions import claim_job, finish_job
from scheduler.job_store.job_item_codec import job_to_item


def job_shaped_item(job_id: str, size_bytes: int) -> JobRecord:
    """A record like the scheduler writes at submit, so items weigh the same."""
    now = time.time()
    return JobRecord(
        job_id=job_id,
        owner="0" * 64,
        owner_name="bench-admin",
        role=Role.ADMIN,
        backend="bench-submit",
        status=JobStatus.QUEUED,
        format="qasm3",
        n_shots=100,
        timeout_s=60.0,
        parameters={},
        size_bytes=size_bytes,
        payload_bytes=size_bytes,
        save_job=False,
        submitted_at=now,
        queued_at=now,
        burst=1.0,
        job_expiry=int(now) + 30 * 86400,
        scheduler_version="bench",
    )


class Floors:
    """Measures floors against the stack's emulator; keeps ids of what it wrote."""

    def __init__(self, stack: BenchStack) -> None:
        self._stack = stack
        self._dynamodb = make_client("dynamodb", stack.settings)
        self._s3 = make_client("s3", stack.settings)
        self._table = stack.names.floor_table
        self._bucket = stack.names.floor_bucket
        self._written: list[str] = []
        ensure_table(self._dynamodb, jobs_table_definition(self._table))
        ensure_bucket(self._s3, self._bucket)

    def _run(self, phase: str, concurrency: int, total: int, op: Operation) -> Row:
        with measure_usage(None, self._stack.emulator_meter) as window:
            load = run_closed_loop(concurrency, total, lambda _: op)
        return summarise(
            f"floor: {phase} C={concurrency}", load.latencies_s, load.wall_s, window.usage
        )

    def _put_item(self, job_id: str, size: int) -> None:
        item = job_to_item(job_shaped_item(job_id, size))
        self._dynamodb.put_item(TableName=self._table, Item=item)

    def _new_ids(self, count: int) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in range(count)]
        self._written.extend(ids)
        return ids

    def put_item(self, concurrency: int, total: int) -> Row:
        ids = self._new_ids(total)
        return self._run("put_item", concurrency, total, lambda i: self._put_item(ids[i], 100))

    def get_item(self, concurrency: int, total: int) -> Row:
        ids = self._written or self._new_ids(1)
        return self._run(
            "get_item",
            concurrency,
            total,
            lambda i: self._dynamodb.get_item(
                TableName=self._table, Key={"job_id": {"S": ids[i % len(ids)]}}, ConsistentRead=True
            ),
        )

    def update_item(self, concurrency: int, total: int) -> Row:
        ids = self._written or self._new_ids(1)
        return self._run(
            "update_item",
            concurrency,
            total,
            lambda i: self._dynamodb.update_item(
                TableName=self._table,
                Key={"job_id": {"S": ids[i % len(ids)]}},
                UpdateExpression="SET #status = :running, #holder = :agent",
                ExpressionAttributeNames={"#status": "status", "#holder": "lease_holder"},
                ExpressionAttributeValues={":running": {"S": "RUNNING"}, ":agent": {"S": "a"}},
            ),
        )

    def put_object(self, payload: bytes, concurrency: int, total: int) -> Row:
        ids = self._new_ids(total)
        return self._run(
            "put_object",
            concurrency,
            total,
            lambda i: self._s3.put_object(Bucket=self._bucket, Key=f"floor/{ids[i]}", Body=payload),
        )

    def naive_submit(self, payload: bytes, concurrency: int, total: int) -> Row:
        """One put_object then one put_item per submission, sequential per client."""
        ids = self._new_ids(total)

        def submit(i: int) -> None:
            self._s3.put_object(Bucket=self._bucket, Key=f"floor/{ids[i]}", Body=payload)
            self._put_item(ids[i], len(payload))

        return self._run("naive submit", concurrency, total, submit)

    def execute_storage(self, concurrency: int, total: int) -> Row:
        """The storage calls one job's execution costs, and nothing else.

        Berth's own claim and finish (conditional UpdateItems), with the result's
        PUT and the HEAD that proves it arrived between them: no scheduler that
        keeps DESIGN.md's guarantees runs a job with fewer, so this bounds the
        execute phase from above. Its records are not the get_item floor's.
        """
        jobs = [job_shaped_item(str(uuid.uuid4()), 100) for _ in range(total)]
        for job in jobs:  # queued before the clock starts, as the execute phase's are
            self._dynamodb.put_item(TableName=self._table, Item=job_to_item(job))

        def execute(i: int) -> None:
            job, agent, now = jobs[i], f"floor-agent-{i % concurrency}", time.time()
            claimed = claim_job(self._dynamodb, self._table, job.job_id, agent, now + 60, now, job)
            if claimed is None:
                raise RuntimeError(f"the floor could not claim {job.job_id}")
            key = f"floor/{job.job_id}/result"
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=RESULT)
            self._s3.head_object(Bucket=self._bucket, Key=key)
            done = time.time()
            completion = Completion(
                status=JobStatus.COMPLETED,
                detail="",
                result_raw_bytes=len(RESULT),
                result_encoded_bytes=len(RESULT),
                log_bytes=0,
                dequeued_at=now,
                execution_started_at=now,
                execution_finished_at=done,
                finished_at=done,
                actual_backend=job.backend,
                agent_version="floor",
                runner_version="floor",
            )
            expiry = int(done) + 86400
            if (
                finish_job(
                    self._dynamodb, self._table, job.job_id, agent, completion, expiry, claimed
                )
                is None
            ):
                raise RuntimeError(f"the floor could not finish {job.job_id}")

        return self._run("execute storage", concurrency, total, execute)


def echo_floor(out_dir: Path, payload: bytes, concurrency: int, total: int) -> Row:
    """A bare grpc.aio echo in its own process, called as the scheduler is."""
    server = ChildProcess("echo server", out_dir / "echo.log")
    port = free_port()
    server.start(["bench.echo_server", str(port)])
    channels: list[grpc.Channel] = []
    try:
        server.wait_for_port(port)
        meter: ProcessMeter = server.meter

        def make(_: int) -> Callable[[int], object]:
            channel = connect(f"127.0.0.1:{port}")
            channels.append(channel)
            echo = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
            return lambda _: echo(payload, timeout=60)

        with measure_usage(meter) as window:
            load = run_closed_loop(concurrency, total, make)
        return summarise(
            f"floor: grpc.aio echo C={concurrency}", load.latencies_s, load.wall_s, window.usage
        )
    finally:
        for channel in channels:
            channel.close()
        server.stop()
