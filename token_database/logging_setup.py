"""Log lines for people (text) or for log pipelines (one JSON object per line).

Lines logged during an RPC carry its request id (see request_ids.py): the
scheduler forwards its own, so one client call can be followed through both.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any

from berth_common.log_lines import TEXT_FORMAT, JsonLineFormatter, install_root_handler

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "token_database_request_id", default=None
)


class JsonFormatter(JsonLineFormatter):
    def extra_fields(self, record: logging.LogRecord) -> dict[str, Any]:
        request_id = request_id_var.get()
        return {} if request_id is None else {"request_id": request_id}


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    install_root_handler(sys.stderr, formatter, level, quiet=("botocore", "boto3", "urllib3"))
