"""The aiohttp application: sessions, CSRF, security headers, errors, rendering.

Pages live in pages.py, admin_pages.py and live.py; this module holds what
every request shares. Every POST carries the session's CSRF token (checked
here, before any handler runs); every page is rendered by jinja2 with
autoescape on, so text a user wrote is shown as text.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jinja2
from aiohttp import web

from dashboard.scheduler_gateway import SchedulerGateway, UserCalls
from dashboard.sessions import SESSION_COOKIE, Session, SessionStore
from scheduler_client.errors import (
    AuthenticationError,
    BerthRpcError,
    NotFoundError,
    PermissionDeniedError,
)

log = logging.getLogger("dashboard")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
BACKEND_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
JOB_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class Site:
    """What handlers need, held once per application."""

    gateway: SchedulerGateway
    sessions: SessionStore
    secure_cookies: bool
    backends: tuple[str, ...]
    templates: jinja2.Environment


SITE = web.AppKey("site", Site)
SESSION = web.RequestKey("session", Session)


def site(request: web.Request) -> Site:
    return request.app[SITE]


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION)


def calls(request: web.Request) -> UserCalls:
    session = session_of(request)
    assert session is not None, "a signed-in page"
    return site(request).gateway.for_token(session.token)


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    session = session_of(request)
    notices = list(session.notices) if session else []
    problems = list(session.problems) if session else []
    if session:
        session.notices.clear()
        session.problems.clear()
    text = (
        site(request)
        .templates.get_template(name)
        .render(
            session=session,
            csrf=session.csrf if session else "",
            notices=notices,
            problems=problems,
            path=request.path,
            **context,
        )
    )
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def notice(request: web.Request, text: str, *, refused: bool = False) -> None:
    """Shown once, on the next page; `refused` ones as an alert (an action did not happen)."""
    session = session_of(request)
    if session is not None:
        (session.problems if refused else session.notices).append(text)


def job_id_of(request: web.Request, name: str = "job_id") -> str:
    """The {job_id} (or {array_id}) of the path; 404 for one no scheduler would have issued."""
    value = request.match_info[name]
    if not JOB_ID.match(value):
        raise web.HTTPNotFound(text=f"no such {name.removesuffix('_id')}")
    return value


def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(request, "error.html", status=status, title=title, message=message)


def signed_in(handler: Handler) -> Handler:
    """Pages for signed-in users; others are sent to the sign-in page."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        if session_of(request) is None:
            if request.method == "GET" and not request.path.startswith("/events/"):
                raise web.HTTPSeeOther("/signin")
            return error_page(request, 401, "Signed out", "Your session ended; sign in again.")
        return await handler(request)

    return wrapped


def admin_only(handler: Handler) -> Handler:
    """403 for a non-admin before any call: the scheduler would refuse them anyway."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        if session is not None and not session.is_admin:
            return error_page(request, 403, "Admins only", "This page needs an admin token.")
        return await handler(request)

    return signed_in(wrapped)


@web.middleware
async def sessions_and_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = site(request).sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        request[SESSION] = session
    if request.method == "POST" and request.path != "/signin":
        form = await request.post()
        posted = form.get("csrf")
        if session is not None and not (isinstance(posted, str) and session.csrf_ok(posted)):
            log.warning("refused a POST to %s without a valid CSRF token", request.path)
            return error_page(request, 403, "Refused", "The form was stale or forged; reload it.")
    return await handler(request)


@web.middleware
async def scheduler_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refused call becomes a page saying why; an unknown token ends the session."""
    try:
        return await handler(request)
    except AuthenticationError:
        session = session_of(request)
        if session is not None:
            site(request).sessions.end(session.session_id)
            request.pop(SESSION, None)
        return error_page(
            request,
            401,
            "Signed out",
            "The scheduler no longer accepts your token (expired or revoked). Sign in again.",
        )
    except PermissionDeniedError as error:
        return error_page(request, 403, "Not allowed", error.message)
    except NotFoundError as error:
        return error_page(request, 404, "Not found", error.message)
    except BerthRpcError as error:
        status = 503 if error.code.name in ("UNAVAILABLE", "DEADLINE_EXCEEDED") else 400
        return error_page(request, status, "The scheduler refused", error.message)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Also `Server-Timing: app;dur=MS`: the time spent here, scheduler calls included."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exception:
        response = exception
    headers = response.headers
    if not response.prepared:  # a live stream's headers went out long ago
        headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")
    if isinstance(response, web.HTTPException):
        raise response
    return response


def set_session_cookie(request: web.Request, response: web.StreamResponse, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        httponly=True,
        samesite="Strict",
        secure=site(request).secure_cookies,
        path="/",
    )
