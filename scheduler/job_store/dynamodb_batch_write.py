"""Unconditional writes of new jobs with BatchWriteItem, up to 25 per request.

DynamoDB may hand back some items unprocessed when the table is throttled;
an unprocessed item was not written. Those are sent again after a backoff
with full jitter, and whatever is still unprocessed after the last round is
returned, so that exactly the items written are acknowledged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from berth_common.backoff import full_jitter
from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.aws.table_definitions import JOB_ID

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

    from scheduler.job_store.job_item_codec import Item

BATCH_SIZE = 25  # DynamoDB's limit for one BatchWriteItem
MAX_ROUNDS = 6
_BACKOFF_S = 0.05


def put_items(client: DynamoDBClient, table: str, items: Sequence[Item]) -> set[str]:
    """Write every item; the job ids of those still unprocessed after the last round."""
    left: set[str] = set()
    for start in range(0, len(items), BATCH_SIZE):
        left |= _put_chunk(client, table, list(items[start : start + BATCH_SIZE]))
    return left


def _put_chunk(client: DynamoDBClient, table: str, items: list[Item]) -> set[str]:
    pending = items
    for round_number in range(MAX_ROUNDS):
        if round_number:
            # Full jitter: replicas throttled together must not come back together.
            time.sleep(full_jitter(round_number, _BACKOFF_S, math.inf))
        requests: list[WriteRequestTypeDef] = [{"PutRequest": {"Item": item}} for item in pending]
        with translate_aws_errors("DynamoDB"):
            response = client.batch_write_item(RequestItems={table: requests})
        unprocessed = {_job_id(r) for r in response.get("UnprocessedItems", {}).get(table, [])}
        pending = [item for item in pending if item[JOB_ID].get("S") in unprocessed]
        if not pending:
            return set()
    return {str(item[JOB_ID].get("S")) for item in pending}


def _job_id(request: Any) -> str:
    return str(request["PutRequest"]["Item"][JOB_ID]["S"])
