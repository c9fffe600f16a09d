"""The in-process AWS emulator of `--dev`: moto's threaded server on a loopback port."""

from __future__ import annotations

from moto.server import ThreadedMotoServer


class EmbeddedAws:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)

    def start(self) -> str:
        """Start serving; returns the endpoint URL."""
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()
