"""The `/metrics` HTTP endpoint (`--metrics-port`), serving one app's registry.

prometheus_client's server runs on its own threads, so a scrape never waits
for the event loop except for the snapshot StateCollector takes on it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server


@dataclass
class MetricsServer:
    httpd: WSGIServer
    port: int

    async def stop(self) -> None:
        # shutdown() blocks until the serving thread notices (up to half a second).
        await asyncio.to_thread(self.httpd.shutdown)
        self.httpd.server_close()


def start_metrics_server(host: str, port: int, registry: CollectorRegistry) -> MetricsServer:
    """Serve on host:port (port 0 = any free port); raises OSError if it cannot bind."""
    httpd, _thread = start_http_server(port, addr=host.strip("[]"), registry=registry)
    return MetricsServer(httpd, int(httpd.server_port))
