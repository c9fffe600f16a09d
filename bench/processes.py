"""Child processes the harness measures (scheduler, emulator, echo server) and a
background event loop for the parts it hosts itself (the token database)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from bench.process_meter import ProcessMeter

REPO_ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def free_port() -> int:
    """A loopback port free right now; children are told it, as a deployment would be."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ChildProcess:
    """A `python -m <module>` child, its output in a log file, measured through /proc."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, module_args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", *module_args],
                cwd=REPO_ROOT,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def meter(self) -> ProcessMeter:
        assert self._process is not None, f"{self.name} was not started"
        return ProcessMeter(self._process.pid)

    def check_alive(self) -> None:
        assert self._process is not None, f"{self.name} was not started"
        if self._process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self._process.returncode}:\n{tail}")

    def wait_for_port(self, port: int, timeout_s: float = 60.0) -> None:
        """Poll until the child accepts connections: a process start has no event to await."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.check_alive()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not open port {port} in time") from None
                time.sleep(0.05)

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM, as an operator would; SIGKILL only if it does not end within grace_s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class MotoServer:
    """`python -m moto.server` on a free loopback port."""

    def __init__(self, log_path: Path) -> None:
        self.child = ChildProcess("moto server", log_path)
        self.endpoint = ""

    def start(self) -> str:
        port = free_port()
        self.child.start(["moto.server", "-H", "127.0.0.1", "-p", str(port)])
        self.child.wait_for_port(port)
        self.endpoint = f"http://127.0.0.1:{port}"
        return self.endpoint

    def stop(self) -> None:
        self.child.stop()


class BackgroundLoop:
    """An asyncio loop on its own thread, for grpc.aio servers the harness hosts."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 120.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout_s)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
