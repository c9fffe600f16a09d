"""Where token records live: the interface and its DynamoDB implementation.

Table layout (created by scheduler/aws/provision.py, `token_table_definition`):
hash key `token_hash` (S, SHA-256 hex of the token) plus `token_id` (S, the
first 12 hex chars), `name` (S), `role` (S), `created_at` (N, epoch seconds)
and `expires_at` (N, epoch seconds; absent = never). The token itself is
never stored.

Lookups by `token_id` (renew, delete) scan the table with a filter. That is
deliberate: they are rare admin operations on a table of at most thousands of
items, and a scan needs no index the provisioning would have to create. The
hot path, verifying a token, is a strongly consistent GetItem on the key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from berth_common.errors import Unavailable
from token_database.token_info import TokenInfo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

log = logging.getLogger(__name__)


class TokenStore(Protocol):
    """Token records keyed by the token's hash.

    Every method MUST raise Unavailable (never a driver exception) when the
    storage cannot be reached or refuses the request.
    """

    def put_new(self, info: TokenInfo) -> bool:
        """Store a new record. MUST NOT overwrite: returns False when the hash exists."""
        ...

    def get(self, token_hash: str) -> TokenInfo | None:
        """The record for this hash, read consistently (a token works right after creation)."""
        ...

    def find_by_token_id(self, token_id: str) -> list[TokenInfo]:
        """Every record whose hash starts with `token_id` (normally zero or one)."""
        ...

    def list_all(self) -> list[TokenInfo]: ...

    def set_expiry(self, token_hash: str, expires_at: int | None) -> TokenInfo | None:
        """Replace the expiry (None = never); None when no such record (MUST NOT create one)."""
        ...

    def delete(self, token_hash: str) -> bool:
        """Remove the record; False when it did not exist."""
        ...


_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


class DynamoDbTokenStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @property
    def table(self) -> str:
        return self._table

    def check_table(self) -> None:
        """Fail fast at start-up (Unavailable) when the table is missing or misshapen."""
        with self._errors():
            table = self._client.describe_table(TableName=self._table)["Table"]
        keys = [(k.get("AttributeName"), k.get("KeyType")) for k in table.get("KeySchema", [])]
        if keys != [("token_hash", "HASH")]:
            raise Unavailable(
                f"table {self._table!r} is not a token table: its key is {keys}, "
                "expected the hash key token_hash"
            )

    def put_new(self, info: TokenInfo) -> bool:
        item: dict[str, AttributeValueTypeDef] = {
            "token_hash": {"S": info.owner_hash},
            "token_id": {"S": info.token_id},
            "name": {"S": info.name},
            "role": {"S": info.role},
            "created_at": {"N": str(info.created_at)},
        }
        if info.expires_at is not None:
            item["expires_at"] = {"N": str(info.expires_at)}
        with self._errors():
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(token_hash)",
                )
            except ClientError as error:
                if _code(error) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def get(self, token_hash: str) -> TokenInfo | None:
        with self._errors():
            response = self._client.get_item(
                TableName=self._table, Key={"token_hash": {"S": token_hash}}, ConsistentRead=True
            )
        item = response.get("Item")
        return _decode(item) if item else None

    def find_by_token_id(self, token_id: str) -> list[TokenInfo]:
        return list(
            self._scan(
                FilterExpression="begins_with(token_hash, :prefix)",
                ExpressionAttributeValues={":prefix": {"S": token_id}},
            )
        )

    def list_all(self) -> list[TokenInfo]:
        return list(self._scan())

    def set_expiry(self, token_hash: str, expires_at: int | None) -> TokenInfo | None:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"token_hash": {"S": token_hash}},
            "ConditionExpression": "attribute_exists(token_hash)",
            "ReturnValues": "ALL_NEW",
        }
        if expires_at is None:
            arguments["UpdateExpression"] = "REMOVE expires_at"
        else:
            arguments["UpdateExpression"] = "SET expires_at = :expires_at"
            arguments["ExpressionAttributeValues"] = {":expires_at": {"N": str(expires_at)}}
        with self._errors():
            try:
                response = self._client.update_item(**arguments)
            except ClientError as error:
                if _code(error) == "ConditionalCheckFailedException":
                    return None
                raise
        return _decode(response["Attributes"])

    def delete(self, token_hash: str) -> bool:
        with self._errors():
            response = self._client.delete_item(
                TableName=self._table,
                Key={"token_hash": {"S": token_hash}},
                ReturnValues="ALL_OLD",
            )
        return bool(response.get("Attributes"))

    def _scan(self, **filters: Any) -> Iterator[TokenInfo]:
        start_key: dict[str, Any] | None = None
        while True:
            arguments: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
            arguments.update(filters)
            if start_key:
                arguments["ExclusiveStartKey"] = start_key
            with self._errors():
                page = self._client.scan(**arguments)
            for item in page.get("Items", []):
                yield _decode(item)
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                return

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Driver failures become Unavailable; the detail goes to the log only."""
        try:
            yield
        except ClientError as error:
            code = _code(error)
            if code == "ConditionalCheckFailedException":
                raise
            log.warning("DynamoDB call on token table %s failed: %s", self._table, code)
            if code == "ResourceNotFoundException":
                raise Unavailable(
                    f"the token table {self._table!r} does not exist; "
                    "provision it or point --table / --table_name_key at the right one"
                ) from error
            if code in _TRANSIENT_CODES:
                raise Unavailable("DynamoDB is busy; retry in a few seconds") from error
            raise Unavailable(
                f"DynamoDB refused the request ({code}); check the credentials and permissions"
            ) from error
        except NoCredentialsError as error:
            raise Unavailable("no AWS credentials are configured for the token table") from error
        except BotoCoreError as error:
            log.warning("DynamoDB call on token table %s failed: %s", self._table, error)
            raise Unavailable("DynamoDB is unreachable; retry in a few seconds") from error


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _decode(item: Any) -> TokenInfo:
    token_hash = item["token_hash"]["S"]
    expires = item.get("expires_at")
    return TokenInfo(
        owner_hash=token_hash,
        name=item.get("name", {}).get("S", ""),
        role=item.get("role", {}).get("S", ""),
        created_at=int(float(item.get("created_at", {}).get("N", "0"))),
        expires_at=int(float(expires["N"])) if expires else None,
    )
