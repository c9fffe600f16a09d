"""Log lines for people (text) or for log pipelines (one JSON object per line).

Each process adds its own fields (a request id, a job's fields) through
`extra_fields`; the line shape, the time format and the handler set-up stay
the same everywhere, so one log query works on every Berth process.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")


class JsonLineFormatter(logging.Formatter):
    """time, level, logger, message, the process's extra fields, then exception."""

    def extra_fields(self, record: logging.LogRecord) -> dict[str, Any]:
        return {}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(self.extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def install_root_handler(
    stream: TextIO, formatter: logging.Formatter, level: int, quiet: Iterable[str]
) -> None:
    """Route every logger to one handler; libraries in `quiet` only from WARNING up,
    because their INFO lines are per request and would drown Berth's own."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
