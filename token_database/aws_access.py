"""How the token database reaches DynamoDB (and SSM, for the table name).

Retries and timeouts are bounded so a dead endpoint turns into a prompt
UNAVAILABLE for the scheduler instead of a hung verification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from berth_common.errors import InvalidArgument, Unavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_ssm.client import SSMClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=5)


def make_dynamodb_client(region: str | None, endpoint: str | None) -> DynamoDBClient:
    return boto3.session.Session().client(
        "dynamodb", region_name=region, endpoint_url=endpoint, config=_CONFIG
    )


def make_ssm_client(region: str | None, endpoint: str | None) -> SSMClient:
    return boto3.session.Session().client(
        "ssm", region_name=region, endpoint_url=endpoint, config=_CONFIG
    )


def resolve_table_name(ssm: SSMClient, parameter: str) -> str:
    """The table name held by an SSM parameter (what --table_name_key names)."""
    try:
        value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"].get("Value")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ParameterNotFound":
            raise InvalidArgument(
                f"SSM parameter {parameter!r} (--table_name_key) does not exist"
            ) from None
        raise Unavailable(f"cannot read SSM parameter {parameter!r}: {code}") from error
    except BotoCoreError as error:
        raise Unavailable(f"cannot read SSM parameter {parameter!r}: {error}") from error
    if not value or not value.strip():
        raise InvalidArgument(f"SSM parameter {parameter!r} (--table_name_key) is empty")
    return value.strip()
