"""Leases bound to a credential, results nobody can overwrite: over real sockets and moto's HTTP
server, with the presigned URLs an agent really gets."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable

import grpc
import pytest
from berth.scheduler.v1 import execution_pb2, job_pb2
from botocore.exceptions import ClientError

from scheduler.domain.jobs import Role
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, download, eventually, rpc_error
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


def object_exists(system: BerthSystem, key: str) -> bool:
    try:
        system.aws_client("s3").head_object(Bucket=system.names.bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def test_a_stale_agents_late_upload_never_changes_what_the_owner_downloads(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    """X goes silent, its lease lapses, Z completes the job; X's presigned PUTs (valid for
    hours) then succeed at S3, but only into X's own attempt's objects, which are swept."""
    system = make_berth_system(
        lease_seconds=2.0, orphan_input_age_seconds=1.0, orphan_sweep_seconds=0.5
    )
    with clients(system) as (submission, execution):
        owner = Submitter(submission, system.tokens["developer"])
        stale = Agent(execution, system.tokens["executor"], agent_id="agent-x")
        honest = Agent(execution, system.tokens["executor"], agent_id="agent-z")
        job_id = owner.submit(b"OPENQASM 3;")
        lost = stale.assign()
        assert lost is not None and (lost.job_id, lost.attempt) == (job_id, 1)
        eventually(
            lambda: owner.status(job_id).status == job_pb2.JOB_STATUS_QUEUED,
            what="the silent agent's lease to lapse",
        )
        won = honest.assign()
        assert won is not None and (won.job_id, won.attempt) == (job_id, 2)
        served = honest.upload(won.result_upload, b"Z's counts")
        honest.upload(won.log_upload, b"Z's log")
        honest.report(job_id, raw=10, encoded=len(served), log_bytes=7)

        stale.upload(lost.result_upload, b"X's forged counts")  # S3 takes it: the URL is valid
        stale.upload(lost.log_upload, b"X's log")
        refused = rpc_error(lambda: stale.report(job_id, raw=17, encoded=1))
        assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION

        links = owner.result(job_id)
        assert gzip.decompress(download(links.result.url)) == b"Z's counts"
        assert gzip.decompress(download(links.log.url)) == b"Z's log"
        x_keys = [f"jobs/{job_id}/attempts/1/result", f"jobs/{job_id}/attempts/1/log"]
        eventually(
            lambda: not any(object_exists(system, key) for key in x_keys),
            timeout_s=20,
            what="the sweep to delete the lost attempt's objects",
        )
        assert gzip.decompress(download(owner.result(job_id).result.url)) == b"Z's counts"
        assert object_exists(system, f"jobs/{job_id}/attempts/2/result")
