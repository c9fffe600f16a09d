"""Server-sent events that keep the job pages current without a reload.

The list page follows ListJobs (its own filter, first page) and sends a row
whenever one appears or changes, and a `left` event when a job no longer
matches the status filter; a job page follows WatchJob. A stream ends
when the browser goes away (noticed at the next write: a keep-alive comment
every few seconds), when the job ends, or when the dashboard shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from typing import Any

from aiohttp import web

from dashboard.pages import job_filters
from dashboard.views import job_row
from dashboard.web import calls, job_id_of, signed_in
from scheduler_client.errors import BerthRpcError, NotFoundError
from scheduler_client.job_info import JobInfo

routes = web.RouteTableDef()

LIST_POLL_S = 1.0
KEEPALIVE_S = 5.0
LIVE_PAGE_SIZE = 50
LEFT_PER_POLL = 10
CLOSING = web.AppKey("closing", asyncio.Event)


async def _open(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    return response


async def _send(response: web.StreamResponse, row: dict[str, Any], event: str = "job") -> None:
    await response.write(f"event: {event}\ndata: {json.dumps(row)}\n\n".encode())


async def _end(response: web.StreamResponse, error: BerthRpcError) -> None:
    """The page shows why its updates stopped (an expired token, the scheduler away)."""
    with contextlib.suppress(ConnectionResetError):
        await response.write(f"event: failed\ndata: {json.dumps(error.message)}\n\n".encode())


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing() or request.app[CLOSING].is_set()


def _shown(job: JobInfo) -> tuple[object, ...]:
    return (job.status, job.queue_position, job.cancel_requested, job.detail)


@routes.get("/events/jobs")
@signed_in
async def job_list_events(request: web.Request) -> web.StreamResponse:
    status, backend, _, _ = job_filters(request)
    user = calls(request)
    response = await _open(request)
    sent: dict[str, tuple[object, ...]] = {}
    quiet_s = 0.0
    try:
        while not _gone(request):
            found, _ = await user.list_jobs(status, backend, LIVE_PAGE_SIZE, "")
            for job in reversed(found):  # oldest first, so new rows stack newest on top
                if sent.get(job.job_id) != _shown(job):
                    sent[job.job_id] = _shown(job)
                    await _send(response, job_row(job))
                    quiet_s = 0.0
            # A row that left the filtered page leaves the table when its status no longer
            # matches (QUEUED -> RUNNING under status=QUEUED); one pushed down by newer
            # jobs gets its last state once, not a frozen status.
            listed = {job.job_id for job in found}
            for job_id in [j for j in sent if j not in listed][:LEFT_PER_POLL]:
                del sent[job_id]
                try:
                    job = await user.job(job_id)
                except NotFoundError:
                    await _send(response, {"job_id": job_id}, "left")
                    continue
                if status is None or job.status is status:
                    await _send(response, job_row(job))
                else:
                    await _send(response, {"job_id": job_id, "status": job.status.value}, "left")
            await asyncio.sleep(LIST_POLL_S)
            quiet_s += LIST_POLL_S
            if quiet_s >= KEEPALIVE_S:
                await response.write(b": keep-alive\n\n")
                quiet_s = 0.0
    except ConnectionResetError:
        pass
    except BerthRpcError as error:
        await _end(response, error)
    return response


@routes.get("/events/jobs/{job_id}")
@signed_in
async def job_events(request: web.Request) -> web.StreamResponse:
    updates = calls(request).watch(job_id_of(request))
    response = await _open(request)
    try:
        await _follow(request, response, updates)
    except ConnectionResetError:
        pass
    except BerthRpcError as error:
        await _end(response, error)
    finally:
        await updates.aclose()
    return response


async def _follow(
    request: web.Request, response: web.StreamResponse, updates: AsyncGenerator[JobInfo, None]
) -> None:
    pending: asyncio.Future[JobInfo] = asyncio.ensure_future(anext(updates))
    try:
        while not _gone(request):
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_S)
            if not done:
                await response.write(b": keep-alive\n\n")
                continue
            try:
                job = pending.result()
            except StopAsyncIteration:
                return
            await _send(response, job_row(job))
            if job.status.terminal:
                return
            pending = asyncio.ensure_future(anext(updates))
    finally:
        pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
