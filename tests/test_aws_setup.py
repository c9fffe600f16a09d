"""Clients, provisioning and resource-name lookup: what `--dev` and deployments start from."""

from __future__ import annotations

import pytest

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.provision import provision
from scheduler.aws.resource_names import resolve_resource_names
from scheduler.aws.table_definitions import DAY_INDEX, OWNER_INDEX, STATUS_INDEX
from scheduler.domain.errors import FailedPrecondition

STATUS_TOML = '[backends.qpu.guest]\nstatus = "available"\n'


def _provision(settings: AwsSettings, status_toml: str = STATUS_TOML, **extra: bool) -> None:
    provision(
        settings,
        table="berth-jobs",
        bucket="berth-jobs-bucket",
        bucket_key_param="/berth/job_bucket_name",
        table_key_param="/berth/job_table_name",
        backend_status_param="/berth/backend_status",
        backend_status_toml=status_toml,
        token_table="berth-tokens",
        **extra,
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
