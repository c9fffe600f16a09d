"""Agent log lines: text for people, one JSON object per line for log shippers.

Job state changes are logged through `job_event`, which puts the job id,
backend, slot and durations both in the message and, for JSON, in fields of
their own, so a log query never has to parse the message.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from berth_common.log_lines import TEXT_FORMAT, JsonLineFormatter, install_root_handler

FIELDS_ATTR = "berth_fields"
IN_MESSAGE = frozenset({"job_id"})  # job lines start with "job <id>"; no need to repeat it


class JsonFormatter(JsonLineFormatter):
    def extra_fields(self, record: logging.LogRecord) -> dict[str, Any]:
        return dict(getattr(record, FIELDS_ATTR, {}))


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Agent logs go to stdout (journald and `docker logs` collect it); job output never does."""
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    install_root_handler(sys.stdout, formatter, level, quiet=("urllib3", "docker"))


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}s"
    return str(value)


def log_event(
    log: logging.Logger, event: str, message: str, *, level: int = logging.INFO, **fields: object
) -> None:
    """`message key=value ...`; JSON gets `event` and every field (floats as `<key>_seconds`).

    Fields that are None are left out.
    """
    fields = {key: value for key, value in fields.items() if value is not None}
    structured: dict[str, object] = {"event": event}
    for key, value in fields.items():
        if isinstance(value, float):
            structured[f"{key}_seconds"] = round(value, 3)
        else:
            structured[key] = value
    details = " ".join(
        f"{key}={_text(value)}" for key, value in fields.items() if key not in IN_MESSAGE
    )
    log.log(
        level, "%s%s", message, f" {details}" if details else "", extra={FIELDS_ATTR: structured}
    )


def job_event(
    log: logging.Logger, event: str, job_id: str, *, level: int = logging.INFO, **fields: object
) -> None:
    """One line per job state change: `job <id> <event> key=value ...`."""
    log_event(log, event, f"job {job_id} {event}", level=level, job_id=job_id, **fields)
