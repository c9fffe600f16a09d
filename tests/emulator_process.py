"""The AWS emulator (moto) over HTTP, faithful where Berth's guarantees depend on it.

DynamoDB evaluates a condition and applies its write atomically; that is what
makes a claim safe when two replicas race for one job. moto's threaded server
does not: two concurrent UpdateItems can both see QUEUED and both win. So
DynamoDB requests are served one at a time here (S3 and SSM stay concurrent),
which restores the atomicity real DynamoDB has, without faking any answer.

`python -m tests.emulator_process` runs it as a process of its own (printing
`emulator serving on http://127.0.0.1:PORT`), which keeps its CPU off the
test process; killing that process is what "AWS went away" looks like.
In-process, `stop()` and `start()` close and reopen the same port while the
data stays (moto keeps it in the process).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from scheduler.dev.embedded_aws import quiet_emulator_access_log

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _DynamoDbOneAtATime:
    """WSGI middleware: requests whose X-Amz-Target names DynamoDB hold one lock."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return list(self._app(environ, start_response))
        with self._lock:
            return list(self._app(environ, start_response))


class EmulatorServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        quiet_emulator_access_log()
        self._host = host
        self.port = port
        self._app = _DynamoDbOneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> str:
        """Serve (again, on the same port after a stop); returns the endpoint."""
        server = make_server(
            self._host, self.port, self._app, threaded=True, request_handler=MotoRequestHandler
        )
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        """Close the port; requests are refused until start()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)


def main() -> None:
    endpoint = EmulatorServer().start()
    print(f"emulator serving on {endpoint}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
