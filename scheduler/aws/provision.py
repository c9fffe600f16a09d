"""Create everything the scheduler stores into, idempotently.

Used by `--dev` (against the embedded or a named emulator) and by tests; a
real deployment may run it too. Running it again is harmless: existing
tables, indexes, the bucket and the jobs in them are kept, missing job
indexes are added, and the operator-edited backend-status document is only
written when absent (unless `overwrite_backend_status`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.table_definitions import (
    DAY_INDEX,
    JOB_EXPIRY,
    OWNER_INDEX,
    STATUS_INDEX,
    index_attribute_definitions,
    job_index_definition,
    job_index_names,
    jobs_table_definition,
    token_table_definition,
)
from scheduler.domain.errors import FailedPrecondition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import CreateTableInputTypeDef
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_ssm.client import SSMClient

__all__ = [
    "DAY_INDEX",
    "OWNER_INDEX",
    "STATUS_INDEX",
    "jobs_table_definition",
    "provision",
    "token_table_definition",
]

log = logging.getLogger(__name__)

_EMPTY_STATUS = '# no backends yet: add [backends.<backend>.<role>] status = "available"\n'
_POLL_S = 2.0
_INDEX_TIMEOUT_S = 900.0  # a real GSI backfill can take minutes


def provision(
    settings: AwsSettings,
    *,
    table: str,
    bucket: str,
    bucket_key_param: str,
    table_key_param: str,
    backend_status_param: str,
    backend_status_toml: str,
    token_table: str,
    overwrite_backend_status: bool = False,
) -> None:
    """The jobs table, the token table, the bucket and the three SSM parameters."""
    dynamodb = make_client("dynamodb", settings)
    with translate_aws_errors("DynamoDB"):
        ensure_table(dynamodb, jobs_table_definition(table))
        ensure_job_indexes(dynamodb, table)
        ensure_ttl(dynamodb, table, JOB_EXPIRY)
        ensure_table(dynamodb, token_table_definition(token_table))
    with translate_aws_errors("S3"):
        ensure_bucket(make_client("s3", settings), bucket)
    ssm = make_client("ssm", settings)
    with translate_aws_errors("SSM"):
        put_string_parameter(ssm, bucket_key_param, bucket, overwrite=True)
        put_string_parameter(ssm, table_key_param, table, overwrite=True)
        # SSM refuses empty values; a TOML comment is an empty document (no backends yet).
        document = backend_status_toml if backend_status_toml.strip() else _EMPTY_STATUS
        put_string_parameter(
            ssm, backend_status_param, document, overwrite=overwrite_backend_status
        )
    log.info("provisioned table %s, token table %s, bucket %s", table, token_table, bucket)


def ensure_table(client: DynamoDBClient, definition: CreateTableInputTypeDef) -> None:
    name = definition["TableName"]
    try:
        client.create_table(**definition)
        log.info("created DynamoDB table %s", name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": int(_POLL_S), "MaxAttempts": 150}
    )


def ensure_job_indexes(client: DynamoDBClient, table: str) -> None:
    """Add any job index a table made by an older version lacks, one at a time."""
    for index_name in job_index_names():
        description = client.describe_table(TableName=table)["Table"]
        existing = {gsi.get("IndexName") for gsi in description.get("GlobalSecondaryIndexes", [])}
        if index_name in existing:
            continue
        log.info("adding index %s to table %s", index_name, table)
        client.update_table(
            TableName=table,
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in index_attribute_definitions(index_name)
            ],
            GlobalSecondaryIndexUpdates=[{"Create": job_index_definition(index_name)}],
        )
        _wait_for_indexes_active(client, table)


def _wait_for_indexes_active(client: DynamoDBClient, table: str) -> None:
    deadline = time.monotonic() + _INDEX_TIMEOUT_S
    while True:
        description = client.describe_table(TableName=table)["Table"]
        pending = [
            gsi.get("IndexName", "")
            for gsi in description.get("GlobalSecondaryIndexes", [])
            if gsi.get("IndexStatus", "ACTIVE") != "ACTIVE"
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise FailedPrecondition(
                f"indexes {pending} of table {table} did not become ACTIVE in time; "
                "run provisioning again once they are"
            )
        time.sleep(_POLL_S)  # polling a control-plane state: there is no event to await


def ensure_ttl(client: DynamoDBClient, table: str, attribute: str) -> None:
    current = client.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    status = current.get("TimeToLiveStatus", "DISABLED")
    if status in ("ENABLED", "ENABLING"):
        if current.get("AttributeName") != attribute:
            raise FailedPrecondition(
                f"table {table} has TTL on {current.get('AttributeName')!r}, "
                f"Berth expires jobs by {attribute!r}; change the table's TTL attribute"
            )
        return
    client.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
    )


def ensure_bucket(client: S3Client, bucket: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    region = client.meta.region_name
    try:
        if region and region != "us-east-1":
            client.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
            )
        else:
            client.create_bucket(Bucket=bucket)
        log.info("created S3 bucket %s", bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def put_string_parameter(client: SSMClient, name: str, value: str, *, overwrite: bool) -> None:
    try:
        client.put_parameter(Name=name, Value=value, Type="String", Overwrite=overwrite)
    except ClientError as error:
        if overwrite or error.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
            raise
