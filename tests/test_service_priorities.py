"""The order agents receive jobs in: short jobs first, fair share, and no job starves."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.service_harness import ADMIN, ServiceLayer, ServiceWorld, principal, submit_request

pytestmark = pytest.mark.asyncio


async def assigned_order(layer: ServiceLayer, backend: str = "qpu") -> list[str]:
    order: list[str] = []
    while (assignment := await layer.executions.assign(backend, "agent-1", 0)) is not None:
        order.append(assignment.job.job_id)
    return order


async def queue_order(layer: ServiceLayer, backend: str = "qpu") -> list[str]:
    listing = await layer.administration.list_queue(ADMIN, backend, 0)
    return [job.entry.job_id for job in listing.jobs]


async def test_shorter_jobs_go_first_and_the_queue_listing_shows_that_order(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    timeouts = {"ann": 500.0, "ben": 60.0, "cai": 300.0, "dov": 5.0}
    ids = {
        name: await layer.submissions.submit(principal(name), submit_request(timeout_s=timeout))
        for name, timeout in timeouts.items()
    }
    expected = [ids[name] for name in sorted(timeouts, key=timeouts.__getitem__)]
    assert await queue_order(layer) == expected
    view = await layer.submissions.view(principal("dov"), ids["dov"])
    assert view.queue_position == 1
    assert await assigned_order(layer) == expected


async def test_a_token_submitting_in_a_burst_yields_to_one_that_did_not(
    service_world: Callable[..., ServiceWorld],
) -> None:
    layer = await service_world().start_layer()
    busy, quiet = principal("busy"), principal("quiet")
    burst = [await layer.submissions.submit(busy, submit_request()) for _ in range(3)]
    late = await layer.submissions.submit(quiet, submit_request())
    assert await assigned_order(layer) == [burst[0], late, burst[1], burst[2]]


async def test_a_job_waiting_past_the_maximum_wait_goes_first_oldest_first(
    service_world: Callable[..., ServiceWorld],
) -> None:
    world = service_world(priority_weight_age=0.0)  # without it, only the starvation rule ages
    layer = await world.start_layer()
    first_long = await layer.submissions.submit(principal("ann"), submit_request(timeout_s=590))
    world.clock.advance(10)
    later_long = await layer.submissions.submit(principal("ben"), submit_request(timeout_s=599))
    world.clock.advance(world.config.priority_max_wait_seconds - 20)
    short = await layer.submissions.submit(principal("cai"), submit_request(timeout_s=1))
    assert await queue_order(layer) == [short, first_long, later_long]
    world.clock.advance(10)  # ann's job has now waited the maximum; ben's not yet
    assert await queue_order(layer) == [first_long, short, later_long]
    world.clock.advance(10)
    assert await assigned_order(layer) == [first_long, later_long, short]


async def test_each_backend_has_its_own_queue(service_world: Callable[..., ServiceWorld]) -> None:
    layer = await service_world().start_layer()
    qpu = await layer.submissions.submit(principal("ann"), submit_request(backend="qpu"))
    gpu = await layer.submissions.submit(principal("ben"), submit_request(backend="gpu"))
    assert await assigned_order(layer, "gpu") == [gpu]
    assert await assigned_order(layer, "qpu") == [qpu]
