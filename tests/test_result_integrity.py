"""Leases bound to a credential, results nobody can overwrite: over real sockets and moto's HTTP
server, with the presigned URLs an agent really gets."""

from __future__ import annotations

import logging

import grpc
import pytest
from berth.scheduler.v1 import execution_pb2, job_pb2

from scheduler.domain.jobs import Role
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, rpc_error
from token_database.registry import TokenRegistry
from token_database.token_store import DynamoDbTokenStore


def second_executor_token(system: BerthSystem) -> tuple[str, str]:
    """Another executor token and its short id, issued as the operators' token CLI does."""
    store = DynamoDbTokenStore(system.aws_client("dynamodb"), system.names.token_table)
    token, info = TokenRegistry(store).create_token("second-executor", Role.EXECUTOR.value)
    return token, info.token_id


def test_a_second_executor_token_naming_the_agent_is_refused_on_heartbeat_refresh_and_report(
    berth_system: BerthSystem, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler.service.executions")
    impostor_token, impostor_id = second_executor_token(berth_system)
    with clients(berth_system) as (submission, execution):
        job_id = Submitter(submission, berth_system.tokens["developer"]).submit()
        agent = Agent(execution, berth_system.tokens["executor"], agent_id="agent-x")
        impostor = Agent(execution, impostor_token, agent_id="agent-x")
        assigned = agent.assign()
        assert assigned is not None and assigned.job_id == job_id

        refusals = [
            rpc_error(lambda: impostor.heartbeat(job_id)),
            rpc_error(
                lambda: impostor.stub.RefreshUploadUrl(
                    execution_pb2.RefreshUploadUrlRequest(job_id=job_id, agent_id="agent-x"),
                    metadata=impostor.metadata,
                    timeout=10,
                )
            ),
            rpc_error(lambda: impostor.report(job_id, raw=1, encoded=1)),
            rpc_error(lambda: impostor.report(job_id, execution_pb2.EXECUTION_OUTCOME_FAILURE)),
        ]
        for refused in refusals:
            assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "was taken by agent agent-x with another executor token" in refused.details()
            assert impostor_token not in refused.details()

        # The lease's own token is unaffected: it heartbeats, uploads and completes the job.
        agent.heartbeat(job_id)
        uploaded = agent.upload(assigned.result_upload, b"honest")
        agent.report(job_id, raw=6, encoded=len(uploaded))
        owner = Submitter(submission, berth_system.tokens["developer"])
        assert owner.status(job_id).status == job_pb2.JOB_STATUS_COMPLETED

    refused_lines = [r.getMessage() for r in caplog.records if "refused the" in r.getMessage()]
    assert len(refused_lines) == 4
    assert all(f"agent=agent-x token={impostor_id}" in line for line in refused_lines)
    assert impostor_token not in caplog.text
    assigned_line = next(r.getMessage() for r in caplog.records if "assigned:" in r.getMessage())
    assert "agent=agent-x token=" in assigned_line and impostor_id not in assigned_line
