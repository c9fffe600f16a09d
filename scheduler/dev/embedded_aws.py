"""The in-process AWS emulator of `--dev`: moto's threaded server on a loopback port."""

from __future__ import annotations

import logging

from moto.server import ThreadedMotoServer


def quiet_emulator_access_log() -> None:
    """The emulator's HTTP server logs every request; Berth's own lines are what matter."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


class EmbeddedAws:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        quiet_emulator_access_log()
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)

    def start(self) -> str:
        """Start serving; returns the endpoint URL."""
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()
