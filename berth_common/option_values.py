"""Parsers for option values given as flags or environment variables.

Each raises ValueError with a message that says what is expected; the
caller adds which flag or variable it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from berth_common.log_lines import LOG_FORMATS

N = TypeVar("N", int, float)

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


def checked(
    convert: Callable[[str], N], accept: Callable[[N], bool], expected: str
) -> Callable[[str], N]:
    """A parser: `convert` the text, then ValueError("must be <expected>") unless `accept`."""

    def parse(text: str) -> N:
        value = convert(text)
        if not accept(value):
            raise ValueError(f"must be {expected}")
        return value

    return parse


positive_int = checked(int, lambda value: value > 0, "a positive integer")
non_negative_int = checked(int, lambda value: value >= 0, "an integer >= 0")


def log_format(text: str) -> str:
    if text not in LOG_FORMATS:
        raise ValueError("must be 'text' or 'json'")
    return text
