"""A job array's page: counts per status, the throttle, every job in order; cancel it whole."""

from __future__ import annotations

from aiohttp import web

from dashboard.views import array_parameters, job_row, status_counts
from dashboard.web import calls, job_id_of, notice, render, signed_in

routes = web.RouteTableDef()


def _array_id(request: web.Request) -> str:
    return job_id_of(request, "array_id")  # array ids are job-id shaped: "array-" and a UUID


@routes.get("/arrays/{array_id}")
@signed_in
async def array_detail(request: web.Request) -> web.StreamResponse:
    """Another user's array is NOT_FOUND from the scheduler, so a 404 here, as for jobs."""
    array = await calls(request).array(_array_id(request))
    shared, varying = array_parameters(array.jobs)
    return render(
        request,
        "array.html",
        array=array,
        counts=status_counts(array.counts),
        jobs=[(job_row(job), job.parameters) for job in array.jobs],
        shared=shared,
        varying=varying,
    )


@routes.get("/arrays/{array_id}/cancel")
@signed_in
async def cancel_array_form(request: web.Request) -> web.StreamResponse:
    array = await calls(request).array(_array_id(request))
    return render(request, "array_cancel.html", array=array, counts=status_counts(array.counts))


@routes.post("/arrays/{array_id}/cancel")
@signed_in
async def cancel_array(request: web.Request) -> web.StreamResponse:
    array_id = _array_id(request)
    outcome = await calls(request).cancel_array(array_id)
    notice(
        request,
        f"Array {array_id}: {outcome.cancelled} cancelled, {outcome.cancel_requested} "
        f"running asked to stop, {outcome.already_ended} had ended.",
    )
    raise web.HTTPSeeOther(f"/arrays/{array_id}")
