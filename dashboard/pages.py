"""The researcher's pages: sign in and out, overview, jobs, one job, cancel, downloads."""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web
from yarl import URL

from dashboard.charts import activity_chart
from dashboard.sessions import SESSION_COOKIE, SIGNIN_COOKIE
from dashboard.views import CONDITION_TEXT, LIFECYCLE_ORDER, job_row, timeline
from dashboard.web import (
    BACKEND_NAME,
    calls,
    error_page,
    job_id_of,
    notice,
    render,
    session_of,
    set_session_cookie,
    signed_in,
    site,
)
from scheduler_client.errors import (
    AuthenticationError,
    FailedPreconditionError,
    PermissionDeniedError,
    ResourceExhaustedError,
)
from scheduler_client.job_info import JobStatus
from scheduler_client.result_download import download_gzip
from scheduler_client.retry import RetryPolicy

log = logging.getLogger("dashboard")

routes = web.RouteTableDef()

PAGE_SIZES = (10, 25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
DOWNLOAD_TIMEOUT_S = 60.0
STATUSES = list(LIFECYCLE_ORDER)


# --- signing in and out ---------------------------------------------------------


@routes.get("/signin")
async def signin_form(request: web.Request) -> web.StreamResponse:
    if session_of(request) is not None:
        raise web.HTTPSeeOther("/")
    return _signin_page(request, "")


def _signin_page(request: web.Request, problem: str, status: int = 200) -> web.Response:
    nonce = secrets.token_urlsafe(24)
    response = render(request, "signin.html", status=status, nonce=nonce, problem=problem)
    response.set_cookie(
        SIGNIN_COOKIE,
        nonce,
        httponly=True,
        samesite="Strict",
        secure=site(request).secure_cookies,
        path="/signin",
    )
    return response


@routes.post("/signin")
async def signin(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    nonce, token = form.get("csrf"), form.get("token")
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not (isinstance(nonce, str) and expected and secrets.compare_digest(nonce, expected)):
        return error_page(request, 403, "Refused", "The sign-in form was stale or forged.")
    token = token.strip() if isinstance(token, str) else ""
    if not token:
        return _signin_page(request, "Paste your Berth token.", 400)
    user = site(request).gateway.for_token(token)
    try:
        await user.list_jobs(None, "", 1, "")
    except AuthenticationError:
        return _signin_page(request, "The scheduler does not accept this token.", 401)
    except PermissionDeniedError:
        return _signin_page(request, "This token's role cannot use the submission port.", 403)
    try:
        await user.activity()
        is_admin = True
    except PermissionDeniedError:
        is_admin = False
    session = site(request).sessions.create(token, is_admin=is_admin)
    log.info("signed in: token %s (admin: %s)", session.token_hash, is_admin)
    response = web.HTTPSeeOther("/")
    set_session_cookie(request, response, session.session_id)
    response.del_cookie(SIGNIN_COOKIE, path="/signin")
    raise response


@routes.post("/signout")
async def signout(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    if session is not None:
        site(request).sessions.end(session.session_id)
        log.info("signed out: token %s", session.token_hash)
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# --- overview -------------------------------------------------------------------


@routes.get("/")
@signed_in
async def overview(request: web.Request) -> web.StreamResponse:
    user = calls(request)
    session = session_of(request)
    assert session is not None
    activity = await user.activity() if session.is_admin else None
    jobs, _ = await user.list_jobs(None, "", 200, "")
    names = set(site(request).backends) | {job.backend for job in jobs}
    if activity is not None:
        names |= {b.backend for b in activity.backends}
    backends = sorted(names)
    limits, statuses = await asyncio.gather(
        user.limits(), asyncio.gather(*(user.service_status(b) for b in backends))
    )
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    finished_last_hour = sum(
        j.status.terminal and (j.times.finished_at or hour_ago) > hour_ago for j in jobs
    )
    return render(
        request,
        "overview.html",
        backends=list(zip(backends, statuses, strict=True)),
        serving=all(status.serving for status in statuses),
        activity=activity,
        limits=limits,
        finished_last_hour=finished_last_hour,
        recent=[job_row(j) for j in jobs[:5]],
        chart=activity_chart(activity) if activity is not None else None,
    )


# --- jobs -------------------------------------------------------------------------


def job_filters(request: web.Request) -> tuple[JobStatus | None, str, int, str]:
    query = request.query
    status_text = query.get("status", "")
    try:
        status = JobStatus.parse(status_text) if status_text else None
    except ValueError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    backend = query.get("backend", "")
    if backend and not BACKEND_NAME.match(backend):
        raise web.HTTPBadRequest(text="backend: 1-64 letters, digits and ._-")
    try:
        page_size = int(query.get("page_size", DEFAULT_PAGE_SIZE))
    except ValueError:
        page_size = 0
    if page_size not in PAGE_SIZES:
        raise web.HTTPBadRequest(text=f"page_size: one of {', '.join(map(str, PAGE_SIZES))}")
    return status, backend, page_size, query.get("after", "")[:2048]


@routes.get("/jobs")
@signed_in
async def jobs(request: web.Request) -> web.StreamResponse:
    status, backend, page_size, after = job_filters(request)
    found, next_token = await calls(request).list_jobs(status, backend, page_size, after)
    query = {"status": status.value if status else "", "backend": backend}
    return render(
        request,
        "jobs.html",
        jobs=[job_row(j) for j in found],
        statuses=STATUSES,
        backends=sorted(
            (set(site(request).backends) | {j.backend for j in found} | {backend}) - {""}
        ),
        status_filter=query["status"],
        backend=backend,
        page_size=page_size,
        next_token=next_token,
        first_page=not after,
        live_query=URL.build(query={k: v for k, v in query.items() if v}).query_string,
    )


@routes.get("/jobs/{job_id}")
@signed_in
async def job_detail(request: web.Request) -> web.StreamResponse:
    job_id = job_id_of(request)
    user = calls(request)
    job = await user.job(job_id)
    session = session_of(request)
    assert session is not None
    priority = agents = None
    if session.is_admin:
        if job.status is JobStatus.QUEUED:
            listing = await user.queue(job.backend, 10_000)
            priority = next((q for q in listing.jobs if q.job_id == job_id), None)
        listed = await user.agents()
        agents = [a for a in listed.agents if job_id in a.running_job_ids]
    return render(
        request,
        "job.html",
        job=job_row(job),
        info=job,
        timeline=timeline(job),
        condition_text=CONDITION_TEXT[job.condition] if job.condition else "",
        priority=priority,
        agents=agents,
    )


@routes.get("/jobs/{job_id}/cancel")
@signed_in
async def cancel_form(request: web.Request) -> web.StreamResponse:
    job = await calls(request).job(job_id_of(request))
    return render(request, "cancel.html", job=job_row(job))


@routes.post("/jobs/{job_id}/cancel")
@signed_in
async def cancel(request: web.Request) -> web.StreamResponse:
    job_id = job_id_of(request)
    outcome = await calls(request).cancel(job_id)
    if outcome.cancel_requested:
        notice(request, f"Cancel requested for job {job_id}: its agent stops it shortly.")
    else:
        notice(request, f"Job {job_id} cancelled.")
    raise web.HTTPSeeOther(f"/jobs/{job_id}")


HOLD_OUTCOMES = {
    JobStatus.HELD: "no agent gets it until it is released",
    JobStatus.QUEUED: "queued again, at the back of the line",
    JobStatus.WAITING: "waiting for the jobs it depends on again",
}


@routes.post("/jobs/{job_id}/{action:hold|release}")
@signed_in
async def hold_or_release(request: web.Request) -> web.StreamResponse:
    """The scheduler decides who may (owner or admin) and from which state; a refusal is shown."""
    job_id = job_id_of(request)
    action = request.match_info["action"]
    user = calls(request)
    try:
        job = await (user.hold(job_id) if action == "hold" else user.release(job_id))
    except (FailedPreconditionError, ResourceExhaustedError) as error:
        done = "held" if action == "hold" else "released"
        notice(request, f"Job {job_id} was not {done}: {error.message}", refused=True)
    else:
        outcome = HOLD_OUTCOMES.get(job.status)
        notice(
            request, f"Job {job_id} is {job.status.value}" + (f": {outcome}." if outcome else ".")
        )
    raise web.HTTPSeeOther(f"/jobs/{job_id}")


@routes.get("/jobs/{job_id}/result")
@signed_in
async def result(request: web.Request) -> web.StreamResponse:
    job_id = job_id_of(request)
    links = await calls(request).result_links(job_id)
    return await _download(links.result.url, f"{job_id}.result")


@routes.get("/jobs/{job_id}/log")
@signed_in
async def job_log(request: web.Request) -> web.StreamResponse:
    job_id = job_id_of(request)
    link = await calls(request).log_link(job_id)
    if not link.log.url:
        return error_page(request, 404, "No log", f"The agent uploaded no log for job {job_id}.")
    return await _download(link.log.url, f"{job_id}.log")


async def _download(url: str, filename: str) -> web.Response:
    """Proxied, so the browser never holds a presigned URL (a credential until it expires)."""
    body = await asyncio.to_thread(
        download_gzip, url, timeout_s=DOWNLOAD_TIMEOUT_S, retry=RetryPolicy()
    )
    return web.Response(
        body=body,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
