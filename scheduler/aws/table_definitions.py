"""The DynamoDB tables Berth needs, as CreateTable arguments.

One definition serves `provision()` (--dev, tests) and the docs for real
deployments, so the indexes the job store queries always exist where it runs.

Jobs table (PAY_PER_REQUEST, TTL on `job_expiry`, epoch seconds as a Number):

| index              | hash key              | range key      | used for                        |
|--------------------|-----------------------|----------------|---------------------------------|
| (table)            | job_id S              |                | every transition                |
| status-queued_at   | status S              | queued_at N    | recovery, other replicas' jobs  |
| owner-submitted_at | owner S               | submitted_at N | ListJobs, one owner's GetUsage  |
| day-submitted_at   | submitted_day S (UTC) | submitted_at N | admins' ListJobs, GetUsage      |

All indexes project ALL attributes.

Token table (PAY_PER_REQUEST): hash key `token_hash` S; nothing else is required.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        CreateTableInputTypeDef,
        GlobalSecondaryIndexTypeDef,
    )

JOB_ID = "job_id"
JOB_EXPIRY = "job_expiry"  # the TTL attribute
STATUS_INDEX = "status-queued_at"
OWNER_INDEX = "owner-submitted_at"
DAY_INDEX = "day-submitted_at"
SUBMITTED_DAY = "submitted_day"  # "YYYY-MM-DD" of submitted_at, UTC
TOKEN_HASH = "token_hash"

_INDEX_KEYS: dict[str, tuple[str, str]] = {
    STATUS_INDEX: ("status", "queued_at"),
    OWNER_INDEX: ("owner", "submitted_at"),
    DAY_INDEX: (SUBMITTED_DAY, "submitted_at"),
}
_ATTRIBUTE_TYPES: dict[str, Literal["S", "N"]] = {
    JOB_ID: "S",
    "status": "S",
    "queued_at": "N",
    "owner": "S",
    "submitted_at": "N",
    SUBMITTED_DAY: "S",
}


def job_index_definition(index_name: str) -> GlobalSecondaryIndexTypeDef:
    hash_key, range_key = _INDEX_KEYS[index_name]
    return {
        "IndexName": index_name,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def job_index_names() -> list[str]:
    return list(_INDEX_KEYS)


def jobs_table_definition(table_name: str) -> CreateTableInputTypeDef:
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in _ATTRIBUTE_TYPES.items()
        ],
        "KeySchema": [{"AttributeName": JOB_ID, "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [job_index_definition(name) for name in _INDEX_KEYS],
    }


def index_attribute_definitions(index_name: str) -> list[tuple[str, Literal["S", "N"]]]:
    """The attribute definitions an UpdateTable that adds `index_name` must carry."""
    return [(name, _ATTRIBUTE_TYPES[name]) for name in _INDEX_KEYS[index_name]]


def token_table_definition(table_name: str) -> CreateTableInputTypeDef:
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": TOKEN_HASH, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": TOKEN_HASH, "KeyType": "HASH"}],
    }
