"""JobRecord <-> DynamoDB item, in the low-level client's attribute-value form.

Every field is written, so update expressions may rely on each attribute
existing. Reading is lenient the other way: an attribute a newer version
added is ignored, one an older version lacked takes the field's default, so
replicas of different versions can share a table during a rolling upgrade.

Numbers go through Decimal from the float's shortest repr, so a float read
back is exactly the float written (page tokens depend on that).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from scheduler.aws.table_definitions import SUBMITTED_DAY
from scheduler.domain.jobs import JobRecord

if TYPE_CHECKING:
    from typing import TypeAlias

    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    Item: TypeAlias = dict[str, AttributeValueTypeDef]

_FIELD_TYPES: dict[str, Any] = typing.get_type_hints(JobRecord)
_REQUIRED = {
    f.name
    for f in dataclasses.fields(JobRecord)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
}


class JobItemFormatError(ValueError):
    """A stored item that cannot be a JobRecord (a bug or a foreign writer)."""


def number(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"DynamoDB cannot store {value!r}")
    return str(Decimal(repr(value)) if isinstance(value, float) else int(value))


def utc_day(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d")


def encode(value: object) -> AttributeValueTypeDef:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, Enum):
        return {"S": str(value.value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float):
        return {"N": number(value)}
    if isinstance(value, dict):
        return {"M": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"L": [encode(v) for v in value]}
    raise TypeError(f"no DynamoDB encoding for {type(value).__name__}")


def job_to_item(job: JobRecord) -> Item:
    item: Item = {f.name: encode(getattr(job, f.name)) for f in dataclasses.fields(job)}
    item[SUBMITTED_DAY] = {"S": utc_day(job.submitted_at)}
    return item


def _decode(value: AttributeValueTypeDef, hint: Any) -> object:
    if hint is bool:
        return bool(value["BOOL"])
    if hint is int:
        return int(Decimal(value["N"]))
    if hint is float:
        return float(value["N"])
    if hint is str:
        return value["S"]
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value["S"])
    origin = typing.get_origin(hint)
    if origin is dict:
        return {k: v["S"] for k, v in value["M"].items()}
    if origin is list:
        return [v["S"] for v in value["L"]]
    raise TypeError(f"no decoding for {hint!r}")


def item_to_job(item: typing.Mapping[str, AttributeValueTypeDef]) -> JobRecord:
    missing = _REQUIRED - item.keys()
    if missing:
        raise JobItemFormatError(f"job item lacks {sorted(missing)}")
    values: dict[str, object] = {}
    try:
        for name, hint in _FIELD_TYPES.items():
            if name in item:
                values[name] = _decode(item[name], hint)
    except (KeyError, ValueError, TypeError) as error:
        raise JobItemFormatError(f"job item has a malformed {name!r}: {error}") from error
    return JobRecord(**values)  # type: ignore[arg-type]
