"""Operator pages: the queue with its priority terms, backends per role, agents."""

from __future__ import annotations

from collections import defaultdict

from aiohttp import web
from berth.scheduler.v1 import admin_pb2, submission_pb2

from dashboard.charts import activity_chart
from dashboard.views import duration_text
from dashboard.web import BACKEND_NAME, admin_only, calls, job_id_of, notice, render

routes = web.RouteTableDef()

QUEUE_PAGE_LIMIT = 200
AVAILABILITIES = {
    "AVAILABLE": submission_pb2.AVAILABILITY_AVAILABLE,
    "MAINTENANCE": submission_pb2.AVAILABILITY_MAINTENANCE,
    "UNAVAILABLE": submission_pb2.AVAILABILITY_UNAVAILABLE,
}
AVAILABILITY_NAMES: dict[int, str] = {value: name for name, value in AVAILABILITIES.items()}
ROLES = ("admin", "developer", "guest")


@routes.get("/admin")
@admin_only
async def queue(request: web.Request) -> web.StreamResponse:
    listing = await calls(request).queue("", QUEUE_PAGE_LIMIT)
    queues: dict[str, list[admin_pb2.QueuedJob]] = defaultdict(list)
    for job in listing.jobs:
        queues[job.queue].append(job)
    return render(
        request,
        "admin_queue.html",
        queues=sorted(queues.items()),
        lengths=dict(listing.queue_lengths),
        weights=listing.weights,
        max_wait=duration_text(listing.max_wait.ToTimedelta().total_seconds()),
        waited=lambda job: duration_text(job.waited.ToTimedelta().total_seconds()),
        limit=QUEUE_PAGE_LIMIT,
    )


@routes.get("/admin/backends")
@admin_only
async def backends(request: web.Request) -> web.StreamResponse:
    activity = await calls(request).activity()
    return render(
        request,
        "admin_backends.html",
        backends=activity.backends,
        availability_names=AVAILABILITY_NAMES,
        availabilities=list(AVAILABILITIES),
        roles=ROLES,
        chart=activity_chart(activity),
    )


@routes.get("/admin/agents")
@admin_only
async def agents(request: web.Request) -> web.StreamResponse:
    listed = await calls(request).agents()
    return render(
        request,
        "admin_agents.html",
        agents=listed.agents,
        window=duration_text(listed.window.ToTimedelta().total_seconds()),
        seen=lambda agent: agent.last_seen.ToDatetime().strftime("%H:%M:%S UTC"),
    )


@routes.post("/admin/jobs/{job_id}/requeue")
@admin_only
async def requeue(request: web.Request) -> web.StreamResponse:
    job_id = job_id_of(request)
    outcome = await calls(request).requeue(job_id)
    notice(request, f"Job {job_id} requeued." if outcome.changed else f"Job {job_id} was queued.")
    raise web.HTTPSeeOther(f"/jobs/{job_id}")


@routes.post("/admin/jobs/{job_id}/fail")
@admin_only
async def fail(request: web.Request) -> web.StreamResponse:
    job_id = job_id_of(request)
    form = await request.post()
    reason = form.get("reason")
    outcome = await calls(request).fail(job_id, reason if isinstance(reason, str) else "")
    notice(request, f"Job {job_id} failed." if outcome.changed else f"Job {job_id} had ended.")
    raise web.HTTPSeeOther(f"/jobs/{job_id}")


@routes.post("/admin/backends/{backend}")
@admin_only
async def set_backend(request: web.Request) -> web.StreamResponse:
    backend = request.match_info["backend"]
    if not BACKEND_NAME.match(backend):
        raise web.HTTPNotFound(text="no such backend")
    form = await request.post()
    role = str(form.get("role", ""))
    availability = int(AVAILABILITIES.get(str(form.get("availability", "")), 0))
    description = str(form.get("description", ""))
    update = await calls(request).set_backend_status(backend, role, availability, description)
    roles = role or "every role"
    notice(
        request,
        f"{backend} ({roles}): {AVAILABILITY_NAMES.get(availability, '?')}"
        + ("" if update.changed else " (unchanged)"),
    )
    raise web.HTTPSeeOther("/admin/backends")
