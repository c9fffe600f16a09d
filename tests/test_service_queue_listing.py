"""The admin queue listing is answered from the replica's memory, whatever its length."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from scheduler.domain.jobs import Role
from tests.job_records import new_job
from tests.service_harness import ADMIN, ServiceWorld, principal

pytestmark = pytest.mark.asyncio

QUEUED = 10_000


async def test_ten_thousand_queued_jobs_are_listed_in_pop_order_within_two_seconds(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world()
    owners = [principal(f"user-{n}", Role.ADMIN) for n in range(5)]
    now = world.clock()
    world.store.create_many(
        [
            replace(
                new_job(owner=owners[n % 5].owner, submitted_at=now - n * 0.01),
                owner_name=owners[n % 5].name,
                timeout_s=float(1 + n % 600),
                idempotency_key="",
                inline_input=b"OPENQASM 3;",
            )
            for n in range(QUEUED)
        ]
    )
    layer = await world.start_layer()
    assert layer.restored.queued_added == QUEUED

    started = time.perf_counter()
    listing = await layer.administration.list_queue(ADMIN, "qpu", QUEUED)
    elapsed = time.perf_counter() - started

    assert elapsed <= 2.0, f"listing {QUEUED} queued jobs took {elapsed:.2f} s"
    assert listing.queue_lengths == {"qpu": QUEUED}
    assert [job.position for job in listing.jobs] == list(range(1, QUEUED + 1))
    names = {owner.owner: owner.name for owner in owners}
    assert all(job.owner_name == names[job.entry.owner] for job in listing.jobs)
    popped: list[str] = []
    while len(popped) < 50 and (got := await layer.executions.assign("qpu", "a", 0)) is not None:
        popped.append(got.job.job_id)
    assert popped == [job.entry.job_id for job in listing.jobs[:50]], "the listing is pop order"
