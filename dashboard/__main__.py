"""`python -m dashboard`: serve the dashboard until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from berth_common.log_lines import TEXT_FORMAT, JsonLineFormatter, install_root_handler
from dashboard.config import ConfigError, DashboardConfig, parse_args
from dashboard.server import start_dashboard

log = logging.getLogger("dashboard")


async def serve(config: DashboardConfig) -> None:
    running = await start_dashboard(config)
    log.info(
        "dashboard on %s://%s:%d/ for the scheduler at %s",
        running.scheme,
        config.host,
        running.port,
        config.scheduler,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await running.stop()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_args(sys.argv[1:] if argv is None else argv)
    except ConfigError as error:
        print(f"python -m dashboard: {error}", file=sys.stderr)
        return 2
    formatter = (
        JsonLineFormatter() if config.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    # aiohttp.access logs each request line: paths only, never a token (none is in a URL).
    install_root_handler(sys.stderr, formatter, logging.INFO, ("grpc",))
    try:
        asyncio.run(serve(config))
    except OSError as error:
        log.error("cannot start: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
