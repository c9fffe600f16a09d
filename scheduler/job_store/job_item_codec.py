"""JobRecord <-> DynamoDB item, in the low-level client's attribute-value form.

A field has an attribute of its own when DynamoDB must see it: keys and
index keys, what a condition or an update expression touches, the TTL
attribute, the listings' filters. The rest is written once and only ever read
whole, so it travels as one JSON string: the job's `spec` (its settings and
submission facts, fixed at submit) and its `outcome` (fixed by the transition
that ends the job; absent before). Every attribute value costs serialising
and parsing on both sides of each call, and every SET clause costs the
service evaluating it: this halves both; an item is the same size.

Every own attribute is written, so update expressions may rely on each
existing; `inline_input` (binary, present only when the input lives in the
record) and `outcome` are the exceptions. Reading is lenient: an attribute
or JSON key a newer version added is ignored, one an older version lacked
takes the field's default, so replicas of different versions can share a
table during a rolling upgrade.

Numbers go through Decimal from the float's shortest repr, and JSON writes
floats by their shortest repr too, so a float read back is exactly the float
written (page tokens depend on that).
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from scheduler.aws.table_definitions import SUBMITTED_DAY
from scheduler.domain.jobs import Completion, JobRecord

if TYPE_CHECKING:
    from typing import TypeAlias

    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    Item: TypeAlias = dict[str, AttributeValueTypeDef]

SPEC = "spec"
OUTCOME = "outcome"
SPEC_FIELDS = (
    "owner_name",
    "role",
    "format",
    "n_shots",
    "timeout_s",
    "parameters",
    "size_bytes",
    "payload_bytes",
    "save_job",
    "burst",
    "scheduler_version",
    "idempotency_key",
    "array_id",
    "array_index",
    "array_size",
    "array_max_running",
    "max_attempts",
    "retry_on_failure",
    "depends_on",
    "dependency",
)
# What an agent reports, beyond its outcome's status, detail and timestamps.
REPORTED_FIELDS = (
    "execution_started_at",
    "execution_finished_at",
    "actual_backend",
    "agent_version",
    "runner_version",
    "result_raw_bytes",
    "result_encoded_bytes",
    "log_bytes",
)
# The outcome: written once, by the transition that ends the job (all of it by
# `finish`; detail and finished_at by the scheduler's own endings). Its detail and
# dequeued_at overrule the attributes of those names, which hold what they were
# while the job ran (a requeue's note; the claim's time).
OUTCOME_FIELDS = ("detail", "finished_at", "dequeued_at", *REPORTED_FIELDS)
_PACKED = {SPEC: SPEC_FIELDS, OUTCOME: OUTCOME_FIELDS}
_FIELD_TYPES: dict[str, Any] = typing.get_type_hints(JobRecord)
_OUTCOME_ONLY = tuple(name for name in OUTCOME_FIELDS if name not in ("detail", "dequeued_at"))
_OWN_FIELDS = tuple(
    name for name in _FIELD_TYPES if name not in SPEC_FIELDS and name not in _OUTCOME_ONLY
)
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
    if isinstance(value, bytes):
        return {"B": value}
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


def _packed(values: dict[str, object]) -> AttributeValueTypeDef:
    # allow_nan=False: like `number`, refuse what could not be read back.
    return {"S": json.dumps(values, separators=(",", ":"), allow_nan=False)}


def outcome_attribute(detail: str, finished_at: float) -> AttributeValueTypeDef:
    """The `outcome` of a job the scheduler ends (cancelled, failed, timed out)."""
    return _packed({"detail": detail, "finished_at": finished_at})


def reported_outcome_attribute(completion: Completion) -> AttributeValueTypeDef:
    """The `outcome` `finish` writes: everything the agent reported but the status."""
    return _packed({name: getattr(completion, name) for name in OUTCOME_FIELDS})


def job_to_item(job: JobRecord) -> Item:
    item: Item = {
        name: encode(value) for name in _OWN_FIELDS if (value := getattr(job, name)) is not None
    }
    item[SPEC] = _packed({name: getattr(job, name) for name in SPEC_FIELDS})
    if job.status.terminal or any(getattr(job, name) != _default(name) for name in _OUTCOME_ONLY):
        item[OUTCOME] = _packed({name: getattr(job, name) for name in OUTCOME_FIELDS})
    item[SUBMITTED_DAY] = {"S": utc_day(job.submitted_at)}
    return item


def _default(name: str) -> object:
    return JobRecord.__dataclass_fields__[name].default


def _decode(value: AttributeValueTypeDef, hint: Any) -> object:
    if hint is bool:
        return bool(value["BOOL"])
    if hint is int:
        return int(Decimal(value["N"]))
    if hint is float:
        return float(value["N"])
    if hint is str:
        return value["S"]
    if hint == bytes | None:
        return bytes(value["B"])
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value["S"])
    origin = typing.get_origin(hint)
    if origin is dict:
        return {k: v["S"] for k, v in value["M"].items()}
    if origin is list:
        return [v["S"] for v in value["L"]]
    raise TypeError(f"no decoding for {hint!r}")


def _from_json(value: object, hint: Any) -> object:
    """A JSON value as the field's type; refuses what the field cannot hold."""
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if typing.get_origin(hint) is dict and isinstance(value, dict):
        if all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return value
    elif typing.get_origin(hint) is list and isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return value
    elif isinstance(hint, type) and type(value) is hint:
        return value
    raise TypeError(f"{value!r} is not a {hint}")


def _item_id(item: typing.Mapping[str, AttributeValueTypeDef]) -> str:
    """The job id of an item, for an error naming what an operator should look at."""
    return repr(item.get("job_id", {}).get("S", "(no job_id)"))


def item_to_job(item: typing.Mapping[str, AttributeValueTypeDef]) -> JobRecord:
    values: dict[str, object] = {}
    name = ""
    try:
        for name in _OWN_FIELDS:
            if name in item:
                values[name] = _decode(item[name], _FIELD_TYPES[name])
        for name, fields in _PACKED.items():
            if name not in item:
                continue
            packed = json.loads(item[name]["S"])
            for field in fields:
                if field in packed:
                    values[field] = _from_json(packed[field], _FIELD_TYPES[field])
    except (KeyError, ValueError, TypeError) as error:
        raise JobItemFormatError(
            f"job item {_item_id(item)} has a malformed {name!r}: {error!r}"
        ) from error
    missing = _REQUIRED - values.keys()
    if missing:
        raise JobItemFormatError(f"job item {_item_id(item)} lacks {sorted(missing)}")
    return JobRecord(**values)  # type: ignore[arg-type]
