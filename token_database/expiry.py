"""Expiry as operators write it ("30d", "12h", "1w2d", "never", an ISO date) and read it."""

from __future__ import annotations

from berth_common.errors import InvalidArgument
from berth_common.times import duration_seconds, format_utc, parse_utc

NEVER = "never"


def parse_expiry(text: str, now: float) -> float | None:
    """Epoch seconds, or None for "never". A duration counts from `now`; a date is UTC."""
    if text.strip().lower() == NEVER:
        return None
    # A bare number could be a compact date (20300131), so a duration needs its unit here.
    seconds = duration_seconds(text, bare_number=False)
    if seconds is not None:
        if seconds <= 0:
            raise InvalidArgument(f"--expires {text!r} is zero; give a positive duration or never")
        return now + seconds
    moment = parse_utc(text)
    if moment is None:
        raise InvalidArgument(
            f"--expires {text!r} is not understood; write e.g. 30d, 12h, 1w2d, never "
            "or a date like 2030-01-31"
        )
    return moment


def format_time(epoch: float | None) -> str:
    return NEVER if epoch is None else format_utc(epoch)
