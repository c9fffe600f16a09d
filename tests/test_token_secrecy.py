"""Tokens never appear in logs or error messages.

A whole job lifecycle and a set of refused calls run with every logger at
DEBUG; then every captured record and every error message returned to a
caller is searched for every token in play (and for a near-miss token,
which a careless "unknown token: ..." message would echo).
"""

from __future__ import annotations

import gzip
import logging

import pytest
from berth.scheduler.v1 import job_pb2, submission_pb2

from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, download, rpc_error


def test_no_token_in_any_log_line_or_error_message(
    berth_system: BerthSystem, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = dict(berth_system.tokens)
    near_miss = tokens["developer"][:-1] + ("A" if tokens["developer"][-1] != "A" else "B")
    errors: list[str] = []
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, tokens["developer"])
        agent = Agent(execution, tokens["executor"])
        job_id = user.submit(b"secret-free payload")
        user.status(job_id)
        assert agent.run(b"result bytes") == job_id
        watched = list(
            user.stub.WatchJob(
                submission_pb2.WatchJobRequest(job_id=job_id), metadata=user.metadata, timeout=5
            )
        )
        assert watched[-1].status == job_pb2.JOB_STATUS_COMPLETED
        assert gzip.decompress(download(user.result(job_id).result.url)) == b"result bytes"
        refused = [
            lambda: Submitter(submission, near_miss).status(job_id),  # unknown token
            lambda: Submitter(execution, tokens["developer"]).submit(),  # wrong port
            lambda: Submitter(submission, tokens["executor"]).submit(),  # wrong port
            lambda: Submitter(submission, tokens["guest"]).status(job_id),  # not theirs
            lambda: user.result("00000000-0000-0000-0000-000000000000"),
        ]
        for call in refused:
            errors.append(rpc_error(call).details())
    captured = "\n".join(record.getMessage() + " " + repr(record.args) for record in caplog.records)
    assert len(caplog.records) > 10, "the run was logged"
    for secret in (*tokens.values(), near_miss):
        assert secret not in captured
        assert all(secret not in message for message in errors)
