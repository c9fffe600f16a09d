"""A runner function for the executor agent's python runner.

    python -m executor_agent ... --runner python --python-function examples.echo_function:run

The agent calls `run(payload, settings)` in a child process of its own and
uploads the bytes it returns; the result is the same as echo_program.py's for
the same job. What it prints goes to the job's log; an exception fails the job
with the traceback's last lines as the error.
"""

from __future__ import annotations

import time
from typing import Any

from examples.echo_program import make_result


def run(payload: bytes, settings: dict[str, Any]) -> bytes:
    print(f"echo function: {len(payload)} bytes for backend {settings.get('backend')}")
    duration = float(settings.get("parameters", {}).get("duration", 0))
    if duration > 0:
        time.sleep(duration)
    return make_result(payload, settings)
