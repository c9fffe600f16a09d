"""Each attempt uploads to its own objects; a finished job serves the attempt that finished it.

On the in-memory stores: the presigned targets an agent gets are the store's, and an upload
to one succeeds for as long as it is valid, as on S3, lease or no lease.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

import pytest

from scheduler.domain.errors import FailedPrecondition, NotFound
from scheduler.domain.jobs import Assignment, JobStatus
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.orphan_sweep import OrphanSweep
from tests.job_records import new_job
from tests.service_harness import ServiceLayer, ServiceWorld, principal, submit_request

pytestmark = pytest.mark.asyncio

ALICE = principal("alice")


def upload(world: ServiceWorld, assignment: Assignment, result: bytes, log: bytes) -> None:
    """What an agent's PUTs do, whether or not it still holds the lease."""
    for target, data in ((assignment.result_upload, result), (assignment.log_upload, log)):
        world.blobs.upload(target.url, data, target.headers)


async def lost_then_won(world: ServiceWorld, layer: ServiceLayer) -> tuple[Assignment, Assignment]:
    """agent-x takes the job and goes silent past its lease; agent-z takes it over."""
    await layer.submissions.submit(ALICE, submit_request())
    lost = await layer.executions.assign("qpu", "agent-x", 0)
    assert lost is not None and lost.job.attempt == 1
    world.clock.advance(31)
    await layer.monitor.check_once()
    won = await layer.executions.assign("qpu", "agent-z", 0)
    assert won is not None and (won.job.job_id, won.job.attempt) == (lost.job.job_id, 2)
    return lost, won


async def downloaded(world: ServiceWorld, layer: ServiceLayer, job_id: str) -> tuple[bytes, bytes]:
    links = await layer.submissions.result_links(ALICE, job_id)
    assert links.log is not None
    return world.blobs.download(links.result.url), world.blobs.download(links.log.url)


async def test_a_lost_attempts_late_upload_is_never_served_and_is_swept(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    lost, won = await lost_then_won(world, layer)
    job_id = won.job.job_id
    upload(world, won, b"Z result", b"Z log")
    completion = replace(world.completion(), log_bytes=5)
    assert (await layer.executions.report(job_id, "agent-z", completion)).status is (
        JobStatus.COMPLETED
    )
    upload(world, lost, b"X result", b"X log")  # the stale agent's URLs are still valid
    assert await downloaded(world, layer, job_id) == (b"Z result", b"Z log")

    io = BlockingIo(1, "sweep")
    try:
        sweep = OrphanSweep(
            world.store,
            world.blobs,
            io,
            interval_s=60,
            min_age_s=60,
            retention_days=31,
            clock=world.clock,
        )
        world.clock.advance(61)
        await sweep.sweep_once()
    finally:
        io.shutdown()
    for kind in ("result", "log"):
        with pytest.raises(NotFound):
            world.blobs.data(kind, job_id, 1)
    assert await downloaded(world, layer, job_id) == (b"Z result", b"Z log")


async def test_a_requeue_deletes_what_the_lost_attempt_uploaded(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    await layer.submissions.submit(ALICE, submit_request())
    lost = await layer.executions.assign("qpu", "agent-x", 0)
    assert lost is not None
    upload(world, lost, b"X result", b"X log")  # uploaded, then silent: no report
    world.clock.advance(31)
    await layer.monitor.check_once()
    assert not world.blobs.result_exists(lost.job.job_id, 1)
    assert not world.blobs.log_exists(lost.job.job_id, 1)


async def test_success_needs_the_result_of_the_attempt_the_agent_holds(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    layer = await world.start_layer()
    lost, won = await lost_then_won(world, layer)
    upload(world, lost, b"X result", b"X log")  # another attempt's result does not count
    with pytest.raises(FailedPrecondition, match="no result object"):
        await layer.executions.report(won.job.job_id, "agent-z", world.completion())
    with pytest.raises(FailedPrecondition, match="agent agent-x does not hold the lease"):
        await layer.executions.report(lost.job.job_id, "agent-x", world.completion())


async def test_a_job_finished_before_attempts_had_their_own_objects_stays_readable(
    service_world: Callable[..., ServiceWorld],
) -> None:
    """Its record names no attempt (result_attempt 0): the job-level objects are served."""
    world = service_world()
    layer = await world.start_layer()
    job_id = str(uuid.uuid4())
    old = replace(
        new_job(owner=ALICE.owner),
        job_id=job_id,
        status=JobStatus.COMPLETED,
        attempt=1,
        tried_agents=["agent-1"],
        log_bytes=3,
        finished_at=world.clock(),
    )
    assert old.result_attempt == 0
    assert world.store.create(old)
    for target, data in (
        (world.blobs.result_upload_target(job_id, 0, 60, {}), b"old result"),
        (world.blobs.log_upload_target(job_id, 0, 60, {}), b"log"),
    ):
        world.blobs.upload(target.url, data, target.headers)
    assert await downloaded(world, layer, job_id) == (b"old result", b"log")
    link = await layer.submissions.log_link(ALICE, job_id)
    assert world.blobs.download(link.url) == b"log"
