"""Building and running the dashboard's aiohttp application."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc
from aiohttp import web

from dashboard import admin_pages, array_pages, live, pages
from dashboard.config import DashboardConfig
from dashboard.scheduler_gateway import SchedulerGateway
from dashboard.sessions import SessionStore
from dashboard.web import (
    SITE,
    Site,
    scheduler_errors,
    security_headers,
    sessions_and_csrf,
    templates,
)

STATIC = Path(__file__).parent / "static"
SHUTDOWN_S = 2.0


def scheduler_tls(config: DashboardConfig) -> bool | grpc.ChannelCredentials:
    if config.scheduler_tls_ca is not None:
        return grpc.ssl_channel_credentials(config.scheduler_tls_ca.read_bytes())
    return config.scheduler_tls


def make_app(config: DashboardConfig, sessions: SessionStore | None = None) -> web.Application:
    gateway = SchedulerGateway(config.scheduler, scheduler_tls(config))
    if sessions is None:
        sessions = SessionStore(
            idle_s=config.session_idle_minutes * 60, max_age_s=config.session_max_hours * 3600
        )
    app = web.Application(middlewares=[security_headers, sessions_and_csrf, scheduler_errors])
    app[SITE] = Site(
        gateway=gateway,
        sessions=sessions,
        secure_cookies=config.secure_cookies,
        backends=config.backends,
        templates=templates(),
    )
    app[live.CLOSING] = asyncio.Event()

    async def open_gateway(app: web.Application) -> None:
        await gateway.open()

    async def closing(app: web.Application) -> None:
        app[live.CLOSING].set()

    async def close_gateway(app: web.Application) -> None:
        await gateway.close()

    app.on_startup.append(open_gateway)
    app.on_shutdown.append(closing)
    app.on_cleanup.append(close_gateway)
    app.add_routes(pages.routes)
    app.add_routes(admin_pages.routes)
    app.add_routes(array_pages.routes)
    app.add_routes(live.routes)
    app.router.add_static("/static/", STATIC)
    return app


def ssl_context(config: DashboardConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


@dataclass
class RunningDashboard:
    runner: web.AppRunner
    port: int
    scheme: str

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_dashboard(
    config: DashboardConfig, sessions: SessionStore | None = None
) -> RunningDashboard:
    runner = web.AppRunner(make_app(config, sessions), shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, ssl_context=ssl_context(config))
    await site.start()
    port = int(runner.addresses[0][1])  # the bound port when config.port is 0
    return RunningDashboard(runner, port, "https" if config.serves_tls else "http")
