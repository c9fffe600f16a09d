"""ListJobs page tokens: where the next page starts, opaque to callers.

A token is urlsafe base64 of a small JSON document: the job id and
submitted_at (as DynamoDB stores it) of the last job listed, plus a short
owner fingerprint (own listings) or the UTC day being walked (admin
listing). It never holds the owner's full token hash. Tokens are checked
field by field before use: a garbled one, or one issued to another owner,
is refused as INVALID_ARGUMENT instead of reaching DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from scheduler.domain.errors import InvalidArgument

_VERSION = 1
_FINGERPRINT_CHARS = 12
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
BAD_TOKEN = (
    "page_token is not one this server issued; pass the previous page's next_page_token, "
    "or an empty page_token for the first page"
)


@dataclass(frozen=True)
class Position:
    """The last job of a page, in index order: the next page starts after it."""

    job_id: str
    submitted_at: str  # DynamoDB number text, exactly as stored


def check_page_size(page_size: int) -> None:
    if page_size < 1:
        raise InvalidArgument("page_size must be at least 1")


def owner_page_token(owner: str, position: Position) -> str:
    return _encode({"scope": "owner", "o": owner[:_FINGERPRINT_CHARS], **_position(position)})


def parse_owner_page_token(token: str, owner: str) -> Position:
    body = _decode(token, "owner")
    if body.get("o") != owner[:_FINGERPRINT_CHARS]:
        raise InvalidArgument(BAD_TOKEN)
    position = _parse_position(body)
    if position is None:
        raise InvalidArgument(BAD_TOKEN)
    return position


def all_page_token(day: str, position: Position | None) -> str:
    """`position` None: the next page starts at the newest job of `day`."""
    fields = _position(position) if position else {"job_id": None, "at": None}
    return _encode({"scope": "all", "day": day, **fields})


def parse_all_page_token(token: str) -> tuple[str, Position | None]:
    body = _decode(token, "all")
    day = body.get("day")
    if not isinstance(day, str) or not _DAY.fullmatch(day):
        raise InvalidArgument(BAD_TOKEN)
    try:
        date.fromisoformat(day)
    except ValueError as error:
        raise InvalidArgument(BAD_TOKEN) from error
    return day, _parse_position(body)


def _position(position: Position) -> dict[str, Any]:
    return {"job_id": position.job_id, "at": position.submitted_at}


def _parse_position(body: dict[str, Any]) -> Position | None:
    job_id, at = body.get("job_id"), body.get("at")
    if job_id is None and at is None:
        return None
    if not isinstance(job_id, str) or not job_id or not isinstance(at, str):
        raise InvalidArgument(BAD_TOKEN)
    try:
        finite = Decimal(at).is_finite()
    except InvalidOperation as error:
        raise InvalidArgument(BAD_TOKEN) from error
    if not finite:
        raise InvalidArgument(BAD_TOKEN)
    return Position(job_id, at)


def _encode(body: dict[str, Any]) -> str:
    raw = json.dumps({"v": _VERSION, **body}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, scope: str) -> dict[str, Any]:
    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidArgument(BAD_TOKEN) from error
    if not isinstance(body, dict) or body.get("v") != _VERSION or body.get("scope") != scope:
        raise InvalidArgument(BAD_TOKEN)
    return body
