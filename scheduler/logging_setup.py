"""Log formatting shared by the scheduler's entry points: text for people, JSON for machines.

Every line logged while an RPC runs carries that RPC's request id, so one
call can be followed through the log (and into the token database, which
receives the same id). The id lives in a ContextVar: grpc.aio runs each RPC
in its own task, and BlockingIo copies the context into its worker threads.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any, TextIO

from berth_common.log_lines import TEXT_FORMAT, JsonLineFormatter, install_root_handler

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


def current_request_id() -> str | None:
    """The id of the RPC this code runs for, or None outside any RPC."""
    return request_id_var.get()


class JsonFormatter(JsonLineFormatter):
    """One JSON object per line: time, level, logger, message[, request_id][, exception]."""

    def extra_fields(self, record: logging.LogRecord) -> dict[str, Any]:
        request_id = current_request_id()
        return {} if request_id is None else {"request_id": request_id}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = current_request_id()
        return line if request_id is None else f"{line} [request_id={request_id}]"


def configure_logging(
    log_format: str, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Route every logger to one handler on `stream` (default stderr)."""
    formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    install_root_handler(
        sys.stderr if stream is None else stream,
        formatter,
        level,
        quiet=("botocore", "boto3", "urllib3", "werkzeug"),
    )
