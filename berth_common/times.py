"""Durations and instants: as people type and read them, and as protobuf carries them.

Seconds are floats and instants are epoch seconds everywhere in Berth; these
are the only conversions to and from text and google.protobuf Duration/Timestamp.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from google.protobuf import duration_pb2, timestamp_pb2

_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d|w)")
_PARTS = re.compile(rf"(?:{_PART.pattern})+")


def duration_seconds(text: str, *, bare_number: bool = True) -> float | None:
    """Seconds in "90", "60s", "5m", "1h30m", "1.5h", "1w2d"; None when `text` is no duration.

    A bare number is seconds unless `bare_number` is False (where it could be read as a date).
    """
    value = text.strip().lower()
    if bare_number and re.fullmatch(_NUMBER, value):
        return float(value)
    if value and _PARTS.fullmatch(value):
        return sum(float(n) * _UNIT_S[unit] for n, unit in _PART.findall(value))
    return None


def parse_duration(text: str) -> float:
    """Positive seconds in `text`; ValueError says what is accepted."""
    seconds = duration_seconds(text)
    if seconds is None:
        raise ValueError(f"cannot read duration {text!r}: use e.g. 90, 60s, 5m, 1h30m")
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be positive, e.g. 60s")
    return seconds


def format_duration(seconds: float) -> str:
    """Compact and exact to the second: 75 -> "1m15s", 3600 -> "1h", 0.5 -> "0.5s"."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:.1f}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"


def format_utc(epoch_s: float) -> str:
    """ "2030-01-31 12:00:00Z": an instant for people, always in UTC."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def parse_utc(text: str) -> float | None:
    """Epoch seconds of an ISO date or date-time (UTC unless it says otherwise); None if not one."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def to_duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(round(seconds * 1e9))
    return duration


def seconds_of(duration: duration_pb2.Duration) -> float:
    return duration.ToNanoseconds() / 1e9


def to_timestamp(epoch_s: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(round(epoch_s * 1e9))
    return stamp


def epoch_of(stamp: timestamp_pb2.Timestamp) -> float:
    return stamp.ToNanoseconds() / 1e9
