"""A restart with a long queue: how soon the ports serve, and the whole queue is assignable.

The queue is written straight into the scheduler's table (as it would be
after a crash), then a new scheduler process starts on it. The floor is what
the emulator itself takes to hand back those records: one paged Query of the
status index, nothing decoded, measured while no scheduler runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bench.stack import BenchStack
from scheduler.admin.admin_client import AdminClient
from scheduler.aws.aws_settings import make_client
from scheduler.aws.table_definitions import STATUS_INDEX
from scheduler.domain.jobs import JobRecord, JobStatus, Role
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler_client.errors import BerthError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

BACKEND = "bench-restart"
ASSIGNABLE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class RestartFigures:
    queued: int
    serving_s: float  # process start -> both ports SERVING
    assignable_s: float  # process start -> every queued job in the scheduler's queue
    floor_s: float  # the emulator handing back the queued records, nothing else

    @property
    def ratio(self) -> float:
        return self.assignable_s / self.floor_s if self.floor_s > 0 else float("nan")

    def line(self) -> str:
        return (
            f"restart @{self.queued:,} queued: SERVING after {self.serving_s:.2f} s, "
            f"all assignable after {self.assignable_s:.2f} s; emulator floor "
            f"{self.floor_s:.2f} s; ratio {self.ratio:.2f} (target <= 1.5)"
        )


def queued_record(n: int, now: float, owner: str) -> JobRecord:
    return JobRecord(
        job_id=f"restart-{n:07d}",
        owner=owner,
        owner_name="bench-admin",
        role=Role.ADMIN,
        backend=BACKEND,
        status=JobStatus.QUEUED,
        format="qasm3",
        n_shots=100,
        timeout_s=60.0,
        parameters={},
        size_bytes=300,
        payload_bytes=100,
        save_job=False,
        submitted_at=now - n * 0.001,
        queued_at=now - n * 0.001,
        burst=1.0,
        job_expiry=int(now + 86_400),
        scheduler_version="bench",
        inline_input=b"OPENQASM 3; // " + b"x" * 85,
    )


def restart_phase(stack: BenchStack, queued: int) -> RestartFigures:
    stack.fresh_scheduler()
    names = stack.scheduler_names
    assert names is not None
    dynamodb = make_client("dynamodb", replace(stack.settings, read_timeout_s=120.0))
    store = DynamoDbJobStore(dynamodb, names.table)
    now = time.time()
    left = store.create_many([queued_record(n, now, "bench") for n in range(queued)])
    assert not left, f"{len(left)} records were not written"
    stack.stop_scheduler()
    floor_s = _emulator_floor(dynamodb, names.table, queued)

    started = time.monotonic()
    child = stack.start_scheduler_again()
    stack.wait_until_serving(child, stack.submission_address)
    stack.wait_until_serving(child, stack.execution_address)
    serving_s = time.monotonic() - started
    _wait_assignable(stack, queued)
    return RestartFigures(queued, serving_s, time.monotonic() - started, floor_s)


def _emulator_floor(client: DynamoDBClient, table: str, expected: int) -> float:
    started = time.monotonic()
    count, start = 0, None
    while True:
        request: QueryInputTypeDef = {
            "TableName": table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#status = :queued",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":queued": {"S": str(JobStatus.QUEUED)}},
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        reply = client.query(**request)
        count += len(reply.get("Items", []))
        start = reply.get("LastEvaluatedKey")
        if start is None:
            break
    assert count == expected, f"the floor read {count} records, not {expected}"
    return time.monotonic() - started


def _wait_assignable(stack: BenchStack, queued: int) -> None:
    """Until the scheduler's queue holds them all: the listing waits for the restore."""
    deadline = time.monotonic() + ASSIGNABLE_TIMEOUT_S
    with AdminClient(stack.submission_address, stack.tokens[Role.ADMIN]) as admin:
        while True:
            try:
                listing = admin.list_queue(BACKEND, 1)
                if listing.queue_lengths.get(BACKEND, 0) >= queued:
                    return
            except BerthError:
                pass  # still restoring past the listing's own wait (or the call's deadline)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{queued} queued jobs were not assignable in time")
            time.sleep(0.05)
