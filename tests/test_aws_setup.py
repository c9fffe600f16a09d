"""Clients, provisioning and resource-name lookup: what `--dev` and deployments start from."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from unittest.mock import patch

import pytest
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models import DynamoDBBackend

from scheduler.app import SchedulerApp
from scheduler.aws.__main__ import main as provision_main
from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import provision
from scheduler.aws.resource_names import resolve_resource_names
from scheduler.aws.table_definitions import DAY_INDEX, OWNER_INDEX, STATUS_INDEX
from scheduler.config import SchedulerConfig
from scheduler.domain.errors import FailedPrecondition, Unauthenticated
from scheduler.domain.jobs import Principal

STATUS_TOML = '[backends.qpu.guest]\nstatus = "available"\n'


def _provision(
    settings: AwsSettings, status_toml: str = STATUS_TOML, *, overwrite_backend_status: bool = False
) -> None:
    provision(
        settings,
        table="berth-jobs",
        bucket="berth-jobs-bucket",
        bucket_key_param="/berth/job_bucket_name",
        table_key_param="/berth/job_table_name",
        backend_status_param="/berth/backend_status",
        backend_status_toml=status_toml,
        token_table="berth-tokens",
        overwrite_backend_status=overwrite_backend_status,
    )


def test_clients_use_the_endpoint_and_the_s3_override() -> None:
    settings = AwsSettings(
        region="eu-west-1", endpoint="http://127.0.0.1:4566", s3_endpoint="http://s3.local:9000"
    )
    assert make_client("dynamodb", settings).meta.endpoint_url == "http://127.0.0.1:4566"
    assert make_client("ssm", settings).meta.endpoint_url == "http://127.0.0.1:4566"
    s3 = make_client("s3", settings)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "jobs/j/result"})
    assert url.startswith("http://s3.local:9000/bkt/jobs/j/result?")  # path-style
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url


def test_settings_never_show_the_secret() -> None:
    settings = AwsSettings(access_key_id="AKID", secret_access_key="very-secret")
    assert "very-secret" not in repr(settings)


def test_provision_creates_everything_and_is_idempotent(aws: None) -> None:
    settings = AwsSettings()
    _provision(settings)
    dynamodb = make_client("dynamodb", settings)
    dynamodb.put_item(TableName="berth-jobs", Item={"job_id": {"S": "kept"}})
    _provision(settings, "# edited away\n")

    table = dynamodb.describe_table(TableName="berth-jobs")["Table"]
    assert table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    indexes = {gsi["IndexName"]: gsi for gsi in table.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {STATUS_INDEX, OWNER_INDEX, DAY_INDEX}
    assert [k["AttributeName"] for k in indexes[DAY_INDEX]["KeySchema"]] == [
        "submitted_day",
        "submitted_at",
    ]
    assert all(gsi["Projection"]["ProjectionType"] == "ALL" for gsi in indexes.values())
    ttl = dynamodb.describe_time_to_live(TableName="berth-jobs")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "job_expiry")
    assert "Item" in dynamodb.get_item(TableName="berth-jobs", Key={"job_id": {"S": "kept"}})
    tokens = dynamodb.describe_table(TableName="berth-tokens")["Table"]
    assert tokens["KeySchema"] == [{"AttributeName": "token_hash", "KeyType": "HASH"}]

    make_client("s3", settings).head_bucket(Bucket="berth-jobs-bucket")
    ssm = make_client("ssm", settings)
    assert resolve_resource_names(ssm, "/berth/job_bucket_name", "/berth/job_table_name") == (
        "berth-jobs-bucket",
        "berth-jobs",
    )
    # The operator-edited document survives re-provisioning unless overwriting is asked for.
    status = ssm.get_parameter(Name="/berth/backend_status")["Parameter"]
    assert status.get("Value") == STATUS_TOML
    _provision(settings, "# replaced\n", overwrite_backend_status=True)
    status = ssm.get_parameter(Name="/berth/backend_status")["Parameter"]
    assert status.get("Value") == "# replaced\n"


def test_provision_adds_indexes_an_older_table_lacks(aws: None) -> None:
    settings = AwsSettings()
    dynamodb = make_client("dynamodb", settings)
    dynamodb.create_table(
        TableName="berth-jobs",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
    )
    _provision(settings)
    table = dynamodb.describe_table(TableName="berth-jobs")["Table"]
    names = {gsi["IndexName"] for gsi in table.get("GlobalSecondaryIndexes", [])}
    assert names == {STATUS_INDEX, OWNER_INDEX, DAY_INDEX}


def test_provision_accepts_an_empty_status_document(aws: None) -> None:
    settings = AwsSettings()
    _provision(settings, "")
    value = make_client("ssm", settings).get_parameter(Name="/berth/backend_status")
    assert value["Parameter"].get("Value", "").startswith("#")


def test_a_missing_name_parameter_is_named_with_its_flag(aws: None) -> None:
    ssm = make_client("ssm", AwsSettings())
    ssm.put_parameter(Name="/berth/job_bucket_name", Value="bkt", Type="String")
    with pytest.raises(FailedPrecondition) as raised:
        resolve_resource_names(ssm, "/berth/job_bucket_name", "/berth/job_table_name")
    assert "'/berth/job_table_name' (named by --job_table_name_key)" in raised.value.message
    assert "job_bucket_name" not in raised.value.message


@pytest.fixture
def store_without_ttl(aws: None) -> Iterator[None]:
    """A DynamoDB-compatible store that refuses UpdateTimeToLive, as some do.

    moto implements TTL, so only that one call is made to answer as such a store does
    (UnknownOperationException); every other call is moto's own.
    """

    def unsupported(*args: object, **kwargs: object) -> None:
        raise JsonRESTError("UnknownOperationException", "UpdateTimeToLive is not supported")

    with patch.object(DynamoDBBackend, "update_time_to_live", unsupported):
        yield


def test_provision_without_ttl_warns_and_still_creates_everything(
    store_without_ttl: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["provision", "--region", "us-east-1", "--backends", "qpu"]
    assert provision_main(args) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    warnings = [line for line in out.splitlines() if "warning" in line.lower()]
    assert (
        len(warnings) == 1 and "TTL" in warnings[0] and "UnknownOperationException" in warnings[0]
    )
    settings = AwsSettings(region="us-east-1")
    make_client("dynamodb", settings).describe_table(TableName="berth-tokens")
    make_client("s3", settings).head_bucket(Bucket="berth-jobs")
    ssm = make_client("ssm", settings)
    assert resolve_resource_names(ssm, "/berth/job_bucket_name", "/berth/job_table_name")
    assert "qpu" in ssm.get_parameter(Name="/berth/backend_status")["Parameter"].get("Value", "")
    # Each step is reported; a second run finds every one of them already done.
    assert provision_main(args) == 0
    again = capsys.readouterr().out
    assert "created" not in again
    for step in ("jobs table", "token table", "bucket", "/berth/backend_status"):
        assert step in out and step in again, step


async def test_the_scheduler_warns_at_start_when_the_tables_ttl_is_off(
    store_without_ttl: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings = AwsSettings(region="us-east-1")
    _provision(settings)
    config = SchedulerConfig(
        region="us-east-1",
        port_for_submission=0,
        port_for_execution=0,
        metrics_port=-1,
        bind_host="127.0.0.1",
    )

    app = SchedulerApp(config, verifier=_NoTokens())
    caplog.clear()  # provisioning's own warning
    with caplog.at_level(logging.WARNING):
        await app.start()
        await app.stop(0)
    ttl = [r.getMessage() for r in caplog.records if "TTL" in r.getMessage()]
    assert len(ttl) == 1 and "berth-jobs" in ttl[0] and "job_expiry" in ttl[0]


class _NoTokens:
    async def verify(self, token: str) -> Principal:
        raise Unauthenticated("no tokens in this test")
