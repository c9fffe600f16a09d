"""Consistent reads of many jobs at once with BatchGetItem.

The replica sync and the orphan sweep check whole sets of job ids; one
GetItem each would be one round trip each. BatchGetItem takes up to 100 keys
and may hand some back unprocessed when the table is throttled: those are
asked again after a short backoff, and a batch that never completes is
Unavailable, like any other throttling.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection
from typing import TYPE_CHECKING

from berth_common.backoff import full_jitter
from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.aws.table_definitions import JOB_ID
from scheduler.domain.errors import Unavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import KeysAndAttributesTypeDef

    from scheduler.job_store.job_item_codec import Item

BATCH_SIZE = 100  # DynamoDB's limit for one BatchGetItem
MAX_ROUNDS = 6
_BACKOFF_S = 0.05


def batch_get_items(client: DynamoDBClient, table: str, job_ids: Collection[str]) -> list[Item]:
    """The items of those job ids that exist, read with ConsistentRead."""
    unique = list(dict.fromkeys(job_ids))
    items: list[Item] = []
    for start in range(0, len(unique), BATCH_SIZE):
        chunk = unique[start : start + BATCH_SIZE]
        items.extend(_read_chunk(client, table, chunk))
    return items


def _read_chunk(client: DynamoDBClient, table: str, job_ids: list[str]) -> list[Item]:
    items: list[Item] = []
    pending = job_ids
    for round_number in range(MAX_ROUNDS):
        request: dict[str, KeysAndAttributesTypeDef] = {
            table: {"Keys": [{JOB_ID: {"S": job_id}} for job_id in pending], "ConsistentRead": True}
        }
        with translate_aws_errors("DynamoDB"):
            response = client.batch_get_item(RequestItems=request)
        items.extend(response.get("Responses", {}).get(table, []))
        unprocessed = response.get("UnprocessedKeys")
        left = unprocessed.get(table) if unprocessed else None
        keys = left.get("Keys", []) if left else []
        pending = [key[JOB_ID].get("S", "") for key in keys]
        if not pending:
            return items
        # Full jitter: replicas throttled together must not come back together.
        time.sleep(full_jitter(round_number, _BACKOFF_S, math.inf))
    raise Unavailable("DynamoDB is unavailable (throttled); retry in a few seconds")
