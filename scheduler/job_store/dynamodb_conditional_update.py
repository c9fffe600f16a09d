"""One conditional UpdateItem on a job: the primitive every transition is made of.

DynamoDB evaluates the condition atomically with the write, so two replicas
or a late agent racing for the same job cannot both win; a failed condition
is an answer, not an error. What comes back is chosen per call: the record
after the write when the caller needs it, nothing when it already knows it
(each attribute returned costs serialising and parsing), and, on a failed
condition, the record as it stands when the caller wants to try again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.aws.table_definitions import JOB_ID
from scheduler.job_store.dynamodb_index_reader import error_code, expression_names
from scheduler.job_store.job_item_codec import encode

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from scheduler.job_store.job_item_codec import Item

_SERVICE = "DynamoDB"


@dataclass(frozen=True)
class Update:
    """SET `assignments` (plain values; `encoded` ones are attribute values already)
    and `raw` clauses, if `condition` holds with `condition_values`."""

    assignments: dict[str, object]
    condition: str
    condition_values: dict[str, object]
    raw: tuple[str, ...] = ()
    encoded: dict[str, AttributeValueTypeDef] | None = None


@dataclass(frozen=True)
class Outcome:
    written: bool
    # After a write: the new item if `return_new`. After a failed condition: the item
    # as it stands if `current_on_failure` (None also when there is no such job).
    item: Item | None


def conditional_update(
    client: DynamoDBClient,
    table: str,
    job_id: str,
    update: Update,
    *,
    return_new: bool = True,
    current_on_failure: bool = False,
) -> Outcome:
    values: dict[str, AttributeValueTypeDef] = {
        f":set_{name}": encode(value) for name, value in update.assignments.items()
    }
    encoded = update.encoded or {}
    values.update({f":set_{name}": value for name, value in encoded.items()})
    values.update({name: encode(value) for name, value in update.condition_values.items()})
    names = [*update.assignments, *encoded]
    expression = "SET " + ", ".join([f"#{name} = :set_{name}" for name in names] + [*update.raw])
    try:
        with translate_aws_errors(_SERVICE):
            response = client.update_item(
                TableName=table,
                Key={JOB_ID: {"S": job_id}},
                UpdateExpression=expression,
                ConditionExpression=update.condition,
                ExpressionAttributeNames=expression_names(expression, update.condition),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW" if return_new else "NONE",
                ReturnValuesOnConditionCheckFailure="ALL_OLD" if current_on_failure else "NONE",
            )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            current: Item | None = error.response.get("Item")  # type: ignore[assignment]
            return Outcome(False, current or None)
        raise
    return Outcome(True, response.get("Attributes"))
