"""`--log-format json`: one JSON object a line, a request id on each line of a call, no tokens."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import grpc
import pytest
from berth.scheduler.v1 import submission_pb2
from berth.tokens.v1 import token_database_pb2, token_database_pb2_grpc

from scheduler.logging_setup import configure_logging, request_id_var
from scheduler.service.blocking_io import BlockingIo
from tests.berth_system import BerthSystem
from tests.conftest import REGION
from tests.grpc_helpers import Agent, Submitter, clients, eventually, rpc_error
from tests.token_database_helpers import create_token_table
from token_database.registry import TokenRegistry
from token_database.token_store import DynamoDbTokenStore

ROOT = Path(__file__).resolve().parent.parent
ACCESS_LOGGER = "scheduler.grpc_api.call_telemetry"
Line = dict[str, Any]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The scheduler's own JSON logging, into a buffer; the access log (DEBUG) included."""
    root = logging.getLogger()
    scheduler_logger = logging.getLogger("scheduler")
    saved = (root.level, scheduler_logger.level)
    stream = io.StringIO()
    configure_logging("json", logging.INFO, stream)
    handler = root.handlers[0]
    scheduler_logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        scheduler_logger.setLevel(saved[1])


def parse_lines(text: str) -> list[Line]:
    lines = []
    for raw in text.splitlines():
        line = json.loads(raw)  # every line is one JSON object
        assert isinstance(line, dict), raw
        assert {"time", "level", "logger", "message"} <= line.keys(), raw
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"]), raw
        lines.append(line)
    return lines


def request_id_of(metadata: Any) -> str:
    ids = [value for key, value in metadata or () if key == "x-request-id"]
    assert len(ids) == 1, metadata
    return str(ids[0])


def test_lines_of_one_call_share_its_request_id_and_tokens_never_appear(
    json_log: io.StringIO, make_berth_system: Callable[..., BerthSystem]
) -> None:
    system = make_berth_system()
    bogus_token = "berth-bogus-token-5f0c2a9e7d41"
    with clients(system) as (submission, execution):
        submitter = Submitter(submission, system.tokens["developer"])
        job_id = submitter.submit()
        agent = Agent(execution, system.tokens["executor"])
        assert agent.run(b"result") == job_id
        # A client-chosen id is adopted and returned; a refused call returns its id too.
        _, call = submitter.stub.GetJobStatus.with_call(
            submission_pb2.GetJobStatusRequest(job_id=job_id),
            metadata=(*submitter.metadata, ("x-request-id", "client-chosen-42")),
            timeout=10,
        )
        assert request_id_of(call.trailing_metadata()) == "client-chosen-42"
        try:
            Submitter(submission, bogus_token).status(job_id)
            raise AssertionError("a bogus token was accepted")
        except grpc.RpcError as error:
            assert isinstance(error, grpc.Call)
            assert error.code() is grpc.StatusCode.UNAUTHENTICATED
            refused_id = request_id_of(error.trailing_metadata())
        bad_id = rpc_error(
            lambda: submitter.stub.GetJobStatus(
                submission_pb2.GetJobStatusRequest(job_id="not a job id"),
                metadata=(*submitter.metadata, ("x-request-id", "x" * 500)),
                timeout=10,
            )
        )
        assert bad_id.code() is grpc.StatusCode.NOT_FOUND

    # A refused call's access line follows its status to the client by a moment.
    eventually(lambda: json_log.getvalue().count(ACCESS_LOGGER) >= 6, what="the access lines")
    text = json_log.getvalue()
    lines = parse_lines(text)
    access = [line for line in lines if line["logger"] == ACCESS_LOGGER]
    calls = {line["message"].split()[0] for line in access}
    assert {
        "berth.scheduler.v1.SubmissionService/SubmitJob",
        "berth.scheduler.v1.ExecutionService/AssignNextJob",
        "berth.scheduler.v1.ExecutionService/ReportExecutionResult",
        "berth.scheduler.v1.SubmissionService/GetJobStatus",
    } <= calls
    ids = [line["request_id"] for line in access]
    assert len(ids) == len(set(ids)) == 6, "one access line, and one id, per call"
    assert "client-chosen-42" in ids and refused_id in ids
    assert "x" * 500 not in text, "an oversized x-request-id is replaced, not logged"

    def lines_of(request_id: str) -> list[Line]:
        return [line for line in lines if line.get("request_id") == request_id]

    # Each call's own lines (a job event, an auth refusal) and its access line share its id.
    job_lines = [line for line in lines if line["message"].startswith(f"job {job_id} ")]
    assert len(job_lines) == 3, job_lines  # queued, assigned, COMPLETED
    for line in job_lines:
        own = lines_of(line["request_id"])
        assert [other["logger"] for other in own if other is not line] == [ACCESS_LOGGER], own
    refused = [line["message"] for line in lines_of(refused_id)]
    assert len(refused) == 2, refused
    assert refused[0].startswith("refused") and "UNAUTHENTICATED" in refused[1], refused

    for secret in (*system.tokens.values(), bogus_token):
        assert secret not in text


async def test_storage_calls_on_worker_threads_log_under_the_request_id(
    json_log: io.StringIO,
) -> None:
    pool = BlockingIo(1, "test-io")
    try:
        request_id_var.set("req-on-a-thread")
        await pool.run(logging.getLogger("scheduler.test").warning, "from a worker thread")
    finally:
        pool.shutdown()
    (line,) = [
        line for line in parse_lines(json_log.getvalue()) if line["logger"] == "scheduler.test"
    ]
    assert line["request_id"] == "req-on-a-thread"


def test_token_database_process_logs_json_with_request_ids(moto_endpoint: str) -> None:
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    table = create_token_table(client)
    admin_token, _ = TokenRegistry(DynamoDbTokenStore(client, table)).create_token("root", "admin")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "token_database",
            "--log-format",
            "json",
            "--endpoint",
            moto_endpoint,
            "--region",
            REGION,
            "--table",
            table,
            "serve",
            "--address",
            "127.0.0.1:0",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        startup: list[str] = []
        for raw in process.stderr:
            startup.append(raw)
            if "serving on" in raw:
                break
        port = re.search(r"\(port (\d+)\)", startup[-1])
        assert port, startup
        with grpc.insecure_channel(f"127.0.0.1:{port[1]}") as channel:
            stub = token_database_pb2_grpc.TokenDatabaseServiceStub(channel)
            response, call = stub.CreateToken.with_call(
                token_database_pb2.CreateTokenRequest(name="alice", role="developer"),
                metadata=(
                    ("authorization", f"Bearer {admin_token}"),
                    ("x-request-id", "scheduler-call-7"),
                ),
                timeout=10,
            )
            assert request_id_of(call.trailing_metadata()) == "scheduler-call-7"
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    text = "".join(startup) + rest
    lines = parse_lines(text)
    created = [line for line in lines if "created token" in line["message"]]
    assert {line["logger"] for line in created} == {
        "token_database.registry",
        "token_database.servicer",
    }, created
    assert all(line.get("request_id") == "scheduler-call-7" for line in created), created
    assert admin_token not in text and response.token not in text
