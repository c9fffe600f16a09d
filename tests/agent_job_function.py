"""A python-runner function for the agent's end-to-end tests, driven by the job's parameters.

    crash=segfault   read address 0: the child process dies of SIGSEGV
    hang=PATH        write this process's pid to PATH, then never return

Otherwise it returns b"python result of <payload>".
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path
from typing import Any


def run(payload: bytes, settings: dict[str, Any]) -> bytes:
    params: dict[str, str] = settings["parameters"]
    print(f"job function pid={os.getpid()} attempt={settings['attempt']}", flush=True)
    if params.get("crash") == "segfault":
        ctypes.string_at(0)
    if "hang" in params:
        Path(params["hang"]).write_text(str(os.getpid()))
        while True:
            time.sleep(60)
    return b"python result of " + payload
