"""Durations as people type them: "90", "60s", "5m", "1h30m", "1.5h"."""

from __future__ import annotations

import re

_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Seconds in `text`; a bare number is seconds. ValueError says what is accepted."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    elif value and re.fullmatch(f"(?:{_PART.pattern})+", value):
        seconds = sum(float(n) * _UNIT_S[unit] for n, unit in _PART.findall(value))
    else:
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
