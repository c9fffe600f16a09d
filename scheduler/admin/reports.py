"""What the admin commands print: sprio-like tables for people, plain dicts for --json."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from berth.scheduler.v1 import admin_pb2
from google.protobuf import timestamp_pb2

from berth_common.times import format_duration, seconds_of
from scheduler.admin.admin_client import AVAILABILITY_NAMES
from scheduler_client.cli.formatting import status_phrase, table
from scheduler_client.job_info import JobInfo

_TERMS = ("age", "timeout", "role", "fair_share")


def _iso(stamp: timestamp_pb2.Timestamp) -> str:
    return stamp.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _terms(terms: admin_pb2.PriorityTerms) -> dict[str, float]:
    return {name: getattr(terms, name) for name in _TERMS}


def _by_queue(listing: admin_pb2.ListQueueResponse) -> dict[str, list[admin_pb2.QueuedJob]]:
    queues: dict[str, list[admin_pb2.QueuedJob]] = {name: [] for name in listing.queue_lengths}
    for job in listing.jobs:
        queues.setdefault(job.queue, []).append(job)
    return queues


def queue_json(listing: admin_pb2.ListQueueResponse) -> dict[str, Any]:
    return {
        "as_of": _iso(listing.as_of),
        "weights": _terms(listing.weights),
        "max_wait_s": seconds_of(listing.max_wait),
        "queues": {
            name: {
                "length": listing.queue_lengths.get(name, len(jobs)),
                "jobs": [
                    {
                        "position": job.position,
                        "job_id": job.job_id,
                        "backend": job.backend,
                        "owner_name": job.owner_name,
                        "role": job.role,
                        "queued_at": _iso(job.queued_at),
                        "waited_s": seconds_of(job.waited),
                        "timeout_s": seconds_of(job.timeout),
                        "burst": job.burst,
                        "size_bytes": job.size_bytes,
                        "priority": job.priority,
                        "factors": _terms(job.factors),
                        "weighted": _terms(job.weighted),
                        "starved": job.starved,
                    }
                    for job in jobs
                ],
            }
            for name, jobs in sorted(_by_queue(listing).items())
        },
    }


def _formula(listing: admin_pb2.ListQueueResponse) -> str:
    w = listing.weights
    return (
        f"PRIORITY = AGE + TIMEOUT + ROLE + FAIRSHARE, weighted {w.age:g}, {w.timeout:g}, "
        f"{w.role:g}, {w.fair_share:g}; jobs waiting over "
        f"{format_duration(seconds_of(listing.max_wait))} go first, oldest first (starved)"
    )


def queue_lines(listing: admin_pb2.ListQueueResponse, backend: str) -> Iterator[str]:
    queues = _by_queue(listing)
    if not listing.jobs:
        yield f"no queued jobs for {backend}" if backend else "no queued jobs"
        return
    yield _formula(listing)
    headers = (
        "POS", "JOB ID", "OWNER", "WAITED", "LIMIT",
        "PRIORITY", "AGE", "TIMEOUT", "ROLE", "FAIRSHARE", "",
    )  # fmt: skip
    for name, jobs in sorted(queues.items()):
        length = listing.queue_lengths.get(name, len(jobs))
        shown = f", showing the first {len(jobs)}" if len(jobs) < length else ""
        yield ""
        yield f"queue {name}: {length} queued{shown}"
        rows = (
            (
                str(job.position),
                job.job_id,
                f"{job.owner_name or '?'} ({job.role})",
                format_duration(seconds_of(job.waited)),
                format_duration(seconds_of(job.timeout)),
                f"{job.priority:.1f}",
                *(f"{value:.1f}" for value in _terms(job.weighted).values()),
                "starved" if job.starved else "",
            )
            for job in jobs
        )
        yield from table(headers, rows)


def job_outcome_json(response: admin_pb2.AdminJobResponse) -> dict[str, Any]:
    return {"changed": response.changed, "job": JobInfo.from_pb(response.job).to_json()}


def requeue_line(response: admin_pb2.AdminJobResponse) -> str:
    info = JobInfo.from_pb(response.job)
    if not response.changed:
        return f"job {info.job_id} was already queued; nothing changed: {status_phrase(info)}"
    return (
        f"job {info.job_id} requeued: {status_phrase(info)}; its agent loses it at its "
        "next heartbeat or report"
    )


def fail_line(response: admin_pb2.AdminJobResponse) -> str:
    info = JobInfo.from_pb(response.job)
    if not response.changed:
        return f"job {info.job_id} had already failed with this reason; nothing changed"
    return f"job {info.job_id} is now {status_phrase(info)}"


def backend_json(response: admin_pb2.SetBackendStatusResponse) -> dict[str, Any]:
    return {
        "backend": response.backend,
        "changed": response.changed,
        "roles": {
            entry.role: {
                "status": AVAILABILITY_NAMES.get(entry.availability, "unknown"),
                "description": entry.description,
            }
            for entry in response.roles
        },
    }


def backend_lines(response: admin_pb2.SetBackendStatusResponse) -> Iterator[str]:
    if response.changed:
        yield f"backend {response.backend} updated (this scheduler applies it now, others soon):"
    else:
        yield f"backend {response.backend} already had this status; nothing changed:"
    rows = (
        (
            entry.role,
            AVAILABILITY_NAMES.get(entry.availability, "unknown"),
            entry.description,
        )
        for entry in response.roles
    )
    for line in table(("ROLE", "STATUS", "DESCRIPTION"), rows):
        yield "  " + line
