"""Parsers for option values given as flags or environment variables.

Each raises ValueError with a message that says what is expected; the
caller adds which flag or variable it was.
"""

from __future__ import annotations

from pathlib import Path

from berth_common.log_lines import LOG_FORMATS

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError("must be true or false (1/0, yes/no, on/off)")


def readable_file(text: str) -> Path:
    """A path that can be opened now: a typo is reported at start-up, not at first use."""
    path = Path(text)
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as error:
        raise ValueError(f"must be a readable file ({error.strerror})") from None
    return path


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def log_format(text: str) -> str:
    if text not in LOG_FORMATS:
        raise ValueError("must be 'text' or 'json'")
    return text
