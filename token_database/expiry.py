"""Expiry as operators write it ("30d", "12h", "1w2d", "never", an ISO date) and read it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from berth_common.errors import InvalidArgument

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_SPEC = re.compile(r"(?:\d+[wdhms])+")
NEVER = "never"


def parse_expiry(text: str, now: float) -> float | None:
    """Epoch seconds, or None for "never". A duration counts from `now`; a date is UTC."""
    spec = text.strip().lower()
    if spec == NEVER:
        return None
    if _SPEC.fullmatch(spec):
        seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(spec))
        if seconds <= 0:
            raise InvalidArgument(f"--expires {text!r} is zero; give a positive duration or never")
        return now + seconds
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgument(
            f"--expires {text!r} is not understood; write e.g. 30d, 12h, 1w2d, never "
            "or a date like 2030-01-31"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_time(epoch: float | None) -> str:
    if epoch is None:
        return NEVER
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
