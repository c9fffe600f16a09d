"""Telling the scheduler how a job ended, and retrying until it hears it or the lease is gone.

A report lost to a scheduler restart is sent again: a duplicate of an
accepted report is acknowledged, so retrying is safe. FAILED_PRECONDITION or
NOT_FOUND mean the job is no longer ours (lease lost, requeued, ended), and
retrying cannot change that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import grpc
from berth.scheduler.v1 import execution_pb2

from berth_common.backoff import Backoff
from berth_common.times import to_timestamp
from executor_agent import AGENT_VERSION
from executor_agent.backoff import FATAL_CODES, describe, status_code
from executor_agent.heartbeat import LEASE_GONE_CODES
from executor_agent.job_log import truncate_error
from executor_agent.logging_setup import job_event
from executor_agent.scheduler_link import SchedulerLink

log = logging.getLogger("executor_agent.report")

Outcome: TypeAlias = execution_pb2.ExecutionOutcome.ValueType
SUCCESS = execution_pb2.EXECUTION_OUTCOME_SUCCESS
FAILURE = execution_pb2.EXECUTION_OUTCOME_FAILURE
TIMEOUT = execution_pb2.EXECUTION_OUTCOME_TIMEOUT
CANCELLED = execution_pb2.EXECUTION_OUTCOME_CANCELLED
OUTCOME_EVENTS = {
    SUCCESS: "completed",
    FAILURE: "failed",
    TIMEOUT: "timeout",
    CANCELLED: "cancelled",
}


@dataclass
class Report:
    job_id: str
    agent_id: str
    outcome: Outcome
    error: str
    dequeued_at: float
    execution_started_at: float
    execution_finished_at: float
    actual_backend: str
    runner_version: str
    result_raw_bytes: int = 0
    result_encoded_bytes: int = 0
    log_bytes: int = 0

    def request(self) -> execution_pb2.ReportExecutionResultRequest:
        return execution_pb2.ReportExecutionResultRequest(
            job_id=self.job_id,
            agent_id=self.agent_id,
            outcome=self.outcome,
            error=truncate_error(self.error),
            result_raw_bytes=self.result_raw_bytes,
            result_encoded_bytes=self.result_encoded_bytes,
            log_bytes=self.log_bytes,
            dequeued_at=to_timestamp(self.dequeued_at),
            execution_started_at=to_timestamp(self.execution_started_at),
            execution_finished_at=to_timestamp(self.execution_finished_at),
            actual_backend=self.actual_backend[:64],
            agent_version=AGENT_VERSION,
            runner_version=self.runner_version[:64],
        )


async def send_report(
    link: SchedulerLink,
    report: Report,
    lease_gone: Callable[[], bool],
    backoff: Backoff | None = None,
) -> bool:
    """True once the scheduler accepted it; False when it refused or the lease ran out."""
    backoff = backoff or Backoff(initial_s=0.2, maximum_s=3.0)
    request = report.request()
    while True:
        try:
            await link.report(request)
            return True
        except grpc.aio.AioRpcError as error:
            code = status_code(error)
            if code in LEASE_GONE_CODES or code in FATAL_CODES:
                job_event(
                    log,
                    "report_refused",
                    report.job_id,
                    level=logging.WARNING,
                    reason=describe(error),
                )
                return False
            if lease_gone():
                job_event(
                    log,
                    "report_abandoned",
                    report.job_id,
                    level=logging.WARNING,
                    reason="the lease expired while the scheduler was unreachable "
                    f"({describe(error)})",
                )
                return False
            await asyncio.sleep(backoff.next_delay())
