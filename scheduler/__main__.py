"""`python -m scheduler`: run the scheduler (or, with --dev, the whole embedded system).

`python -m scheduler admin ...` runs the operator commands instead (scheduler/admin/).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from scheduler.app import FatalError, SchedulerApp, StartupError
from scheduler.config import ConfigError, SchedulerConfig, load_config
from scheduler.domain.errors import BerthError
from scheduler.logging_setup import configure_logging

if TYPE_CHECKING:
    from dashboard.server import RunningDashboard
    from scheduler.dev.dev_stack import DevStack
    from scheduler.dev.embedded_aws import EmbeddedAws

log = logging.getLogger("scheduler")


def _stop_signal() -> asyncio.Event:
    """Set by SIGTERM or SIGINT from now on: installed before anything says it is running,
    so a signal sent as soon as that line appears stops the process in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _wait_for(stop: asyncio.Event) -> None:
    await stop.wait()
    log.info("stop signal received: no new calls, finishing in-flight ones")


async def _until_stopped(app: SchedulerApp, stop: asyncio.Event) -> None:
    """Until a stop signal; raises FatalError if the scheduler fails first."""
    waits = [
        asyncio.ensure_future(_wait_for(stop)),
        asyncio.ensure_future(app.until_failed()),
    ]
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    for wait in done:
        wait.result()


async def serve(app: SchedulerApp) -> None:
    """Start `app`, serve until a stop signal or a fatal error, then stop it."""
    stop = _stop_signal()
    await app.start()
    try:
        await _until_stopped(app, stop)
    finally:
        await app.stop()


async def run(config: SchedulerConfig) -> None:
    await serve(SchedulerApp(config))


async def run_dev(config: SchedulerConfig) -> None:
    from scheduler.dev.dev_stack import DevStack
    from token_database.dev_state import (
        DEFAULT_DEV_STATE_FILE,
        use_dev_credentials,
        write_dev_state,
    )

    use_dev_credentials()
    emulator = None
    endpoint = config.endpoint
    if endpoint is None:
        emulator = _embedded_aws()
        endpoint = emulator.start()
    stack = DevStack(config, endpoint)
    dashboard: RunningDashboard | None = None
    try:
        await stack.start(tokens_file=config.dev_tokens_file)
        state_file = config.dev_tokens_file.with_name(DEFAULT_DEV_STATE_FILE.name)
        write_dev_state(state_file, stack.state)
        host = "localhost"
        dashboard, dashboard_line = await _start_dev_dashboard(config, stack, host)
        print(
            "\nBerth is running (development mode)\n"
            f"  submission   {host}:{stack.submission_port}   (clients: admin, developer, guest)\n"
            f"  execution    {host}:{stack.execution_port}   (agents: executor)\n"
            f"  token db     {stack.token_database_address}\n"
            f"  metrics      {_metrics_url(stack, host)}\n"
            f"  dashboard    {dashboard_line}\n"
            f"  AWS emulator {endpoint}{' (in-process moto)' if emulator else ''}\n"
            f"  backends     emulator, qpu (available to every role)\n"
            f"  tokens       written to {config.dev_tokens_file}:",
            flush=True,
        )
        for role, token in stack.tokens.items():
            print(f"    {role:<10} {token}", flush=True)
        stop = _stop_signal()
        print("Press Ctrl-C to stop.\n", flush=True)
        assert stack.app is not None, "a started DevStack has its scheduler"
        await _until_stopped(stack.app, stop)
    finally:
        if dashboard is not None:
            await dashboard.stop()
        await stack.stop()
        if emulator is not None:
            emulator.stop()


def _embedded_aws() -> EmbeddedAws:
    try:
        from scheduler.dev.embedded_aws import EmbeddedAws
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("moto"):
            raise
        raise StartupError(
            "--dev needs the embedded AWS emulator, which this installation lacks: install "
            "the dev extra (pip install 'berth[dev]') or give --endpoint of a running emulator"
        ) from None
    return EmbeddedAws()


async def _start_dev_dashboard(
    config: SchedulerConfig, stack: DevStack, host: str
) -> tuple[RunningDashboard | None, str]:
    """The dashboard beside the dev scheduler (with its TLS files, if any), and its banner line."""
    if config.dashboard_port < 0:
        return None, "off (--dashboard-port -1)"
    try:
        from dashboard.config import DashboardConfig
        from dashboard.server import start_dashboard
    except ModuleNotFoundError as error:  # an install without the dashboard extra
        return None, f"off: needs berth[dashboard] ({error.name} is not installed)"
    from scheduler.dev.dev_stack import DEV_BACKENDS

    tls = config.tls_files
    try:
        dashboard = await start_dashboard(
            DashboardConfig(
                # asyncio binds "::" as IPv6 only, which "localhost" (127.0.0.1) would miss
                host="0.0.0.0" if config.bind_host == "[::]" else config.bind_host.strip("[]"),
                port=config.dashboard_port,
                scheduler=f"localhost:{stack.submission_port}",
                scheduler_tls_ca=tls.cert if tls else None,
                scheduler_tls=tls is not None,
                tls_cert=tls.cert if tls else None,
                tls_key=tls.key if tls else None,
                backends=DEV_BACKENDS,
            )
        )
    except OSError as error:
        raise StartupError(
            f"cannot serve the dashboard on port {config.dashboard_port} (--dashboard-port; "
            f"-1 turns it off): {error}"
        ) from error
    url = f"{dashboard.scheme}://{host}:{dashboard.port}/"
    return dashboard, f"{url}   (sign in with a token from the list below)"


def _metrics_url(stack: DevStack, host: str) -> str:
    server = stack.app.metrics_server if stack.app is not None else None
    return (
        f"http://{host}:{server.port}/metrics" if server is not None else "off (--metrics-port -1)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["admin"]:  # operator commands against a running scheduler
        from scheduler.admin.cli import main as admin_main

        return admin_main(args[1:])
    try:
        config = load_config(args)
    except ConfigError as error:
        print(f"python -m scheduler: {error}", file=sys.stderr)
        return 2
    configure_logging(config.log_format)
    try:
        asyncio.run(run_dev(config) if config.dev else run(config))
    except (StartupError, BerthError) as error:
        log.error("cannot start: %s", error)
        return 1
    except FatalError as error:
        log.critical("scheduler stopped: %s", error)
        return 1
    except OSError as error:
        log.error("cannot start: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
