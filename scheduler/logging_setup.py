"""Log formatting shared by the scheduler's entry points: text for people, JSON for machines.

Every line logged while an RPC runs carries that RPC's request id, so one
call can be followed through the log (and into the token database, which
receives the same id). The id lives in a ContextVar: grpc.aio runs each RPC
in its own task, and BlockingIo copies the context into its worker threads.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import TextIO

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


def current_request_id() -> str | None:
    """The id of the RPC this code runs for, or None outside any RPC."""
    return request_id_var.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message[, request_id][, exception]."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = current_request_id()
        return line if request_id is None else f"{line} [request_id={request_id}]"


def configure_logging(
    log_format: str, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Route every logger to one handler on `stream` (default stderr)."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Their INFO lines are per request and would drown ours.
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
