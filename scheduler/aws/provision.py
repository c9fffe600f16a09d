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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from scheduler.aws.aws_errors import failure_reason, translate_aws_errors, unavailable_message
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
    "Step",
    "jobs_table_definition",
    "provision",
    "token_table_definition",
]

log = logging.getLogger(__name__)

_EMPTY_STATUS = '# no backends yet: add [backends.<backend>.<role>] status = "available"\n'
_POLL_S = 2.0
_INDEX_TIMEOUT_S = 900.0  # a real GSI backfill can take minutes


@dataclass(frozen=True)
class Step:
    """One provisioning step and what it found or did; a warning did not stop the rest."""

    what: str
    outcome: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{'warning: ' if self.warning else ''}{self.what}: {self.outcome}"


def _log_step(step: Step) -> None:
    log.log(logging.WARNING if step.warning else logging.INFO, "provision: %s", step)


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
    report: Callable[[Step], None] = _log_step,
) -> list[Step]:
    """The jobs table, the token table, the bucket and the three SSM parameters.

    Each step checks before it creates, so a run that stopped halfway is finished
    by the next one; TTL that cannot be enabled is a warning, not a stop.
    """
    steps: list[Step] = []

    def done(what: str, outcome: str, *, warning: bool = False) -> None:
        steps.append(Step(what, outcome, warning))
        report(steps[-1])

    dynamodb = make_client("dynamodb", settings)
    with translate_aws_errors("DynamoDB"):
        done(f"jobs table {table}", _made(ensure_table(dynamodb, jobs_table_definition(table))))
        added = ensure_job_indexes(dynamodb, table)
        done(f"jobs table {table} indexes", f"added {', '.join(added)}" if added else "present")
        ttl = ensure_ttl(dynamodb, table, JOB_EXPIRY)
        done(f"jobs table {table} TTL on {JOB_EXPIRY}", ttl.outcome, warning=ttl.warning)
        created = ensure_table(dynamodb, token_table_definition(token_table))
        done(f"token table {token_table}", _made(created))
    with translate_aws_errors("S3"):
        done(f"bucket {bucket}", _made(ensure_bucket(make_client("s3", settings), bucket)))
    ssm = make_client("ssm", settings)
    with translate_aws_errors("SSM"):
        put_string_parameter(ssm, bucket_key_param, bucket, overwrite=True)
        done(f"SSM parameter {bucket_key_param}", f"set to {bucket}")
        put_string_parameter(ssm, table_key_param, table, overwrite=True)
        done(f"SSM parameter {table_key_param}", f"set to {table}")
        # SSM refuses empty values; a TOML comment is an empty document (no backends yet).
        document = backend_status_toml if backend_status_toml.strip() else _EMPTY_STATUS
        written = put_string_parameter(
            ssm, backend_status_param, document, overwrite=overwrite_backend_status
        )
        done(
            f"SSM parameter {backend_status_param}",
            "written" if written else "kept (an existing document is only replaced when asked)",
        )
    return steps


def _made(created: bool) -> str:
    return "created" if created else "already there"


def ensure_table(client: DynamoDBClient, definition: CreateTableInputTypeDef) -> bool:
    """True when this call created the table."""
    name = definition["TableName"]
    created = True
    try:
        client.create_table(**definition)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
        created = False
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": int(_POLL_S), "MaxAttempts": 150}
    )
    return created


def ensure_job_indexes(client: DynamoDBClient, table: str) -> list[str]:
    """Add any job index a table made by an older version lacks, one at a time."""
    added: list[str] = []
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
        added.append(index_name)
    return added


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


@dataclass(frozen=True)
class TtlState:
    outcome: str
    warning: bool


def ensure_ttl(client: DynamoDBClient, table: str, attribute: str) -> TtlState:
    """Expire finished jobs by `attribute`; a store that cannot is reported, not fatal."""
    problem = ttl_problem(client, table, attribute)
    if problem is None:
        return TtlState("already on", warning=False)
    if problem.startswith(_OTHER_ATTRIBUTE):
        raise FailedPrecondition(f"table {table} {problem}; change the table's TTL attribute")
    try:
        client.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )
    except ClientError as error:
        if unavailable_message("DynamoDB", error) is not None:
            raise  # an outage or bad credentials: the whole run must stop and say so
        return TtlState(
            f"cannot be enabled ({failure_reason(error)}); finished jobs will not expire "
            f"by themselves: enable TTL on {attribute!r} when the store supports it, "
            "or delete old jobs yourself",
            warning=True,
        )
    return TtlState("enabled", warning=False)


_OTHER_ATTRIBUTE = "has TTL on"


def ttl_problem(client: DynamoDBClient, table: str, attribute: str) -> str | None:
    """None when `table` expires items by `attribute`; else what is wrong, for a warning."""
    try:
        current = client.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    except ClientError as error:
        if unavailable_message("DynamoDB", error) is not None:
            raise
        return f"its TTL cannot be read ({failure_reason(error)})"
    status = current.get("TimeToLiveStatus", "DISABLED")
    if status not in ("ENABLED", "ENABLING"):
        return f"TTL is {status.lower()}"
    if current.get("AttributeName") != attribute:
        return (
            f"{_OTHER_ATTRIBUTE} {current.get('AttributeName')!r}, "
            f"Berth expires jobs by {attribute!r}"
        )
    return None


def ensure_bucket(client: S3Client, bucket: str) -> bool:
    """True when this call created the bucket."""
    try:
        client.head_bucket(Bucket=bucket)
        return False
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
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
        return False
    return True


def put_string_parameter(client: SSMClient, name: str, value: str, *, overwrite: bool) -> bool:
    """True when written; False when it existed and `overwrite` is off."""
    try:
        client.put_parameter(Name=name, Value=value, Type="String", Overwrite=overwrite)
    except ClientError as error:
        if overwrite or error.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
            raise
        return False
    return True
