"""A job program for the agent's end-to-end tests, driven by the job's parameters.

    gate=PATH      wait until PATH exists (the test opens the gate); skipped when
                   BERTH_TEST_NO_GATE=1 is in the agent's environment
    barrier=DIR    with parties=N: wait until N jobs have reached DIR (proves they overlap)
    child=1        start a background child first (to check the process group is killed)
    pidfile=PATH   write this process's pid there
    sleep=S        sleep S seconds
    fail=MESSAGE   print progress and MESSAGE to stderr, exit 3

The result (stdout) is "result of <payload> on gpus <CUDA_VISIBLE_DEVICES>".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def wait_until(condition_met: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition_met():
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting for {what}")
        time.sleep(0.02)


def main() -> int:
    settings = json.loads(os.environ["BERTH_JOB_SETTINGS"])
    params: dict[str, str] = settings["parameters"]
    payload = sys.stdin.buffer.read()
    print(f"job program pid={os.getpid()} attempt={settings['attempt']}", file=sys.stderr)
    sys.stderr.flush()
    if "pidfile" in params:
        Path(params["pidfile"]).write_text(str(os.getpid()))
    if "child" in params:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(f"child pid={child.pid}", file=sys.stderr, flush=True)
    if "gate" in params and os.environ.get("BERTH_TEST_NO_GATE") != "1":
        gate = Path(params["gate"])
        wait_until(gate.exists, "the gate")
    if "barrier" in params:
        barrier = Path(params["barrier"])
        (barrier / settings["job_id"]).touch()
        parties = int(params["parties"])
        wait_until(lambda: len(list(barrier.iterdir())) >= parties, "the other jobs", 20)
    if "sleep" in params:
        time.sleep(float(params["sleep"]))
    if "fail" in params:
        for step in range(30):
            print(f"step {step}", file=sys.stderr)
        print(params["fail"], file=sys.stderr)
        return 3
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "none")
    sys.stdout.buffer.write(b"result of " + payload + b" on gpus " + gpus.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
