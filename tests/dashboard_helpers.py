"""A dashboard in front of a test's Berth system, and a signed-in HTTP client for it."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dashboard.config import DashboardConfig
from dashboard.server import make_app
from dashboard.sessions import SessionStore
from tests.berth_system import BerthSystem

Http = TestClient[web.Request, web.Application]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def dashboard_config(system: BerthSystem) -> DashboardConfig:
    return DashboardConfig(
        host="127.0.0.1", port=0, scheduler=system.submission_address, backends=("emulator", "qpu")
    )


async def dashboard_client(system: BerthSystem, sessions: SessionStore | None = None) -> Http:
    client = TestClient(TestServer(make_app(dashboard_config(system), sessions)))
    await client.start_server()
    return client


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: Http, token: str) -> str:
    """Sign in through the form; returns the overview page's text."""
    form = await client.get("/signin")
    response = await client.post(
        "/signin", data={"csrf": csrf_of(await form.text()), "token": token}
    )
    assert response.status == 200, await response.text()
    assert str(response.url.path) == "/"
    return await response.text()
