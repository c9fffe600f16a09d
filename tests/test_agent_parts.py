"""Small agent parts: the capped job log, error truncation, backoff, and state-change logging."""

from __future__ import annotations

import io
import json
import logging

import grpc
import pytest

from berth_common.backoff import Backoff
from executor_agent.backoff import ConnectionState
from executor_agent.job_log import JobLog, truncate_error
from executor_agent.logging_setup import JsonFormatter, job_event


def test_job_log_keeps_the_last_bytes_and_says_what_it_dropped() -> None:
    log = JobLog(limit_bytes=10)
    log.write(b"0123456789")
    log.write(b"abcde")
    log.note("exited with code 1")
    assert log.output == b"56789abcde"
    rendered = log.render().decode()
    assert rendered.startswith("[berth-agent] log truncated: the first 5 bytes were dropped")
    assert "56789abcde\n" in rendered
    assert rendered.rstrip().endswith("exited with code 1")


def test_job_log_tail_is_the_last_lines() -> None:
    log = JobLog(1024)
    log.write("".join(f"line {i}\n" for i in range(50)).encode())
    assert log.tail_text(max_lines=3) == "line 47\nline 48\nline 49"


def test_long_errors_are_truncated_for_users() -> None:
    short = "x" * 100
    assert truncate_error(short) == short
    long = truncate_error("y" * 100_000)
    assert len(long) <= 4000
    assert long.endswith("…(truncated; the job log has the rest)")


def test_full_jitter_backoff_grows_to_its_cap() -> None:
    top = Backoff(initial_s=0.5, maximum_s=4.0, random=lambda: 0.999999)
    caps = [round(top.next_delay(), 2) for _ in range(6)]
    assert caps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    bottom = Backoff(random=lambda: 0.0)
    assert bottom.next_delay() == 0.0
    top.reset()
    assert round(top.next_delay(), 2) == 0.5


class _Unavailable(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "connection refused"


def test_connection_problems_are_logged_once_per_state_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = ConnectionState("sched:8081")
    with caplog.at_level(logging.INFO, logger="executor_agent.connection"):
        for _ in range(5):
            state.failed(_Unavailable())
        state.succeeded()
        state.succeeded()
        state.failed(_Unavailable())
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "scheduler sched:8081 unreachable, retrying with backoff "
        "reason=UNAVAILABLE: connection refused",
        "scheduler sched:8081 reachable again",
        "scheduler sched:8081 unreachable, retrying with backoff "
        "reason=UNAVAILABLE: connection refused",
    ]


def test_json_log_lines_carry_job_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test_agent_parts.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    job_event(logger, "completed", "j-1", backend="qpu", slot=0, ran=1.23456, error=None)
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "job j-1 completed backend=qpu slot=0 ran=1.235s"
    assert entry["event"] == "completed"
    assert entry["job_id"] == "j-1"
    assert entry["backend"] == "qpu"
    assert entry["ran_seconds"] == 1.235
    assert "error" not in entry
