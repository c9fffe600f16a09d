"""A defect while restoring the job table (a record that cannot be decoded) ends the
scheduler, non-zero and with a line naming what failed, instead of leaving it up with
every submission answered UNAVAILABLE. An unreachable table is retried, not a defect."""

from __future__ import annotations

import socket

import pytest

from scheduler.__main__ import main, serve
from scheduler.app import FatalError, SchedulerApp
from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import provision
from scheduler.config import SchedulerConfig
from scheduler.domain.errors import Unauthenticated
from scheduler.domain.jobs import Principal

TABLE = "berth-jobs"
BROKEN_JOB = "job-with-a-broken-record"
CONFIG = SchedulerConfig(
    region="us-east-1",
    bind_host="127.0.0.1",
    port_for_submission=0,
    port_for_execution=0,
    metrics_port=-1,
)


class _NoTokens:
    async def verify(self, token: str) -> Principal:
        raise Unauthenticated("no tokens in this test")


@pytest.fixture
def table_with_a_broken_record(aws: None) -> None:
    """Provisioned storage whose job table holds a QUEUED item no scheduler wrote."""
    provision(
        AwsSettings(region="us-east-1"),
        table=TABLE,
        bucket="berth-jobs-bucket",
        bucket_key_param="/berth/job_bucket_name",
        table_key_param="/berth/job_table_name",
        backend_status_param="/berth/backend_status",
        backend_status_toml='[backends.qpu.guest]\nstatus = "available"\n',
        token_table="berth-tokens",
    )
    make_client("dynamodb", AwsSettings(region="us-east-1")).put_item(
        TableName=TABLE,
        Item={
            "job_id": {"S": BROKEN_JOB},
            "status": {"S": "QUEUED"},
            "queued_at": {"N": "1800000000"},
            "attempt": {"S": "not a number"},
        },
    )


async def test_a_record_that_cannot_be_decoded_fails_the_scheduler_naming_it(
    table_with_a_broken_record: None,
) -> None:
    app = SchedulerApp(CONFIG, verifier=_NoTokens())
    with pytest.raises(FatalError, match=rf"job table failed: .*{BROKEN_JOB}.*'attempt'"):
        await serve(app)  # returns only once stopped: here, by the failure, stopping the app


def test_the_process_exits_non_zero_with_a_line_saying_what_failed(
    table_with_a_broken_record: None, capfd: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as unused:  # no token database: the restore fails before it matters
        unused.bind(("127.0.0.1", 0))
        token_database = f"127.0.0.1:{unused.getsockname()[1]}"
        code = main(
            [
                "--region", "us-east-1",
                "--bind-host", "127.0.0.1",
                "--port-for-submission", "0",
                "--port-for-execution", "0",
                "--metrics-port", "-1",
                "--address_to_token_database", token_database,
            ]
        )  # fmt: skip
    assert code == 1
    lines = capfd.readouterr().err.splitlines()
    fatal = [line for line in lines if "scheduler stopped: restoring the job table failed" in line]
    assert len(fatal) == 1, lines[-10:]
    assert BROKEN_JOB in fatal[0] and "malformed 'attempt'" in fatal[0], fatal[0]
