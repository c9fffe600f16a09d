#!/usr/bin/env python3
"""A runner program for the executor agent's command runner: a stand-in for real hardware.

    python -m executor_agent ... -- python3 examples/echo_program.py {input} {output}

It reads the job's payload (the file `{input}`, or stdin), its settings from
BERTH_JOB_SETTINGS, and writes a deterministic JSON result (to `{output}`, or
stdout): the payload's size and SHA-256, the backend and shot count, and
"counts" derived from the payload, so the same job always gives the same
result. A job parameter `duration` (seconds) makes it pretend to run that long.
Progress lines go to stderr, which the agent keeps as the job's log.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from typing import Any


def make_result(payload: bytes, settings: dict[str, Any]) -> bytes:
    digest = hashlib.sha256(payload).hexdigest()
    shots = int(settings.get("n_shots", 0))
    zeros = shots * int(digest[:4], 16) // 0xFFFF
    result = {
        "backend": settings.get("backend", ""),
        "format": settings.get("format", ""),
        "n_shots": shots,
        "payload_bytes": len(payload),
        "payload_sha256": digest,
        "counts": {"00": zeros, "11": shots - zeros},
    }
    return json.dumps(result, sort_keys=True).encode() + b"\n"


def main(argv: list[str]) -> int:
    settings = json.loads(os.environ.get("BERTH_JOB_SETTINGS", "{}"))
    if len(argv) > 1:
        with open(argv[1], "rb") as file:
            payload = file.read()
    else:
        payload = sys.stdin.buffer.read()
    print(f"echo program: job {settings.get('job_id', '?')}, {len(payload)} bytes", file=sys.stderr)
    duration = float(settings.get("parameters", {}).get("duration", 0))
    if duration > 0:
        print(f"echo program: running for {duration:g}s", file=sys.stderr, flush=True)
        time.sleep(duration)
    result = make_result(payload, settings)
    if len(argv) > 2:
        with open(argv[2], "wb") as file:
            file.write(result)
    else:
        sys.stdout.buffer.write(result)
    print("echo program: done", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
