"""Queries over the jobs table's global secondary indexes, page by page.

Kept apart from the transitions: this is where DynamoDB's paging rules live
(Limit counts items evaluated before the filter, a response stops at 1 MB,
the start key of the next page is an index key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.aws.table_definitions import JOB_ID
from scheduler.domain.errors import InvalidArgument
from scheduler.domain.jobs import JobStatus
from scheduler.job_store.job_item_codec import number
from scheduler.job_store.page_tokens import BAD_TOKEN

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef

    from scheduler.job_store.job_item_codec import Item

_NAME = re.compile(r"#(\w+)")


def expression_names(*expressions: str) -> dict[str, str]:
    """ExpressionAttributeNames for every `#name` used: exactly those, as DynamoDB demands."""
    return {f"#{name}": name for e in expressions for name in _NAME.findall(e)}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class IndexQuery:
    """One index partition (`hash_attr` = `hash_value`), optionally filtered.

    `range_from`: only items whose range key is at least this (a key condition:
    the items before it are never read, unlike a filter's).
    """

    index: str
    hash_attr: str
    range_attr: str
    hash_value: str
    status: JobStatus | None = None
    backend: str | None = None
    range_from: float | None = None


class JobIndexReader:
    def __init__(self, client: DynamoDBClient, table_name: str, query_batch: int) -> None:
        self._client = client
        self._table = table_name
        self._query_batch = query_batch

    def read(
        self,
        query: IndexQuery,
        start: Item | None,
        *,
        newest_first: bool = False,
        limit: int | None = None,
        ids_only: bool = False,
    ) -> tuple[list[Item], Item | None]:
        """One Query: the matching items and the key to continue after (None at the end).

        `ids_only`: items hold only job_id (a fraction of the bytes on the wire).
        """
        key_condition = f"#{query.hash_attr} = :hash"
        values: dict[str, AttributeValueTypeDef] = {":hash": {"S": query.hash_value}}
        if query.range_from is not None:
            key_condition += f" AND #{query.range_attr} >= :range_from"
            values[":range_from"] = {"N": number(query.range_from)}
        filters = []
        if query.status is not None:
            filters.append("#status = :filter_status")
            values[":filter_status"] = {"S": str(query.status)}
        if query.backend is not None:
            filters.append("#backend = :filter_backend")
            values[":filter_backend"] = {"S": query.backend}
        projection = [f"#{JOB_ID}"] if ids_only else []
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": query.index,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeNames": expression_names(key_condition, *filters, *projection),
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first,
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        if projection:
            request["ProjectionExpression"] = ", ".join(projection)
        if limit is not None:
            request["Limit"] = limit
        if start is not None:
            request["ExclusiveStartKey"] = start
        try:
            with translate_aws_errors("DynamoDB"):
                response = self._client.query(**request)
        except ClientError as error:
            # A start key comes from DynamoDB or a checked page token: a rejected one was forged.
            if start is not None and error_code(error) == "ValidationException":
                raise InvalidArgument(BAD_TOKEN) from error
            raise
        return response.get("Items", []), response.get("LastEvaluatedKey")

    def fill_page(
        self, query: IndexQuery, start: Item | None, page_size: int
    ) -> tuple[list[Item], Item | None]:
        """Up to `page_size` matching items newest first, and where the next page starts.

        DynamoDB applies Limit before the filter, so a selective filter may
        need several Queries; when one returns more matches than fit, the next
        page starts right after the last item kept.
        """
        collected: list[Item] = []
        while True:
            wanted = page_size - len(collected)
            limit = max(wanted, self._query_batch)
            items, last = self.read(query, start, newest_first=True, limit=limit)
            if len(items) > wanted:
                collected.extend(items[:wanted])
                return collected, index_key(collected[-1], query)
            collected.extend(items)
            if last is None or len(collected) == page_size:
                return collected, last
            start = last


def index_key(item: Item, query: IndexQuery) -> Item:
    """The start key DynamoDB itself would return after `item` in the query's index."""
    return {name: item[name] for name in (JOB_ID, query.hash_attr, query.range_attr)}
