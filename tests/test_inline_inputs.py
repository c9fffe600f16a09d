"""Small inputs live in the job's record: one write per submission, none at claim.

Where an input went is observable in storage: an inline input has no object
in the bucket (so the orphan sweep and the bucket's lifecycle rules never see
it) and the record carries it; a large one, or one the owner asked to keep
(save_job), is an object in the bucket as before.
"""

from __future__ import annotations

from collections.abc import Callable

from berth.scheduler.v1 import job_pb2, submission_pb2
from google.protobuf import duration_pb2

from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients

LIMIT = 64


def submit(user: Submitter, payload: bytes, *, save_job: bool = False) -> str:
    request = submission_pb2.SubmitJobRequest(
        job=job_pb2.Job(
            program=job_pb2.Program(format="qasm3", payload=payload),
            settings=job_pb2.JobSettings(
                backend="emulator", n_shots=10, timeout=duration_pb2.Duration(seconds=60)
            ),
        ),
        options=submission_pb2.SubmitOptions(save_job=save_job),
    )
    return str(user.stub.SubmitJob(request, metadata=user.metadata, timeout=10).job_id)


def stored_inputs(system: BerthSystem) -> set[str]:
    app = system.stack.app
    assert app is not None and app.blobs is not None and app.store is not None
    return {stored.job_id for stored in app.blobs.list_inputs(float("inf"))}


def record_input(system: BerthSystem, job_id: str) -> bytes | None:
    app = system.stack.app
    assert app is not None and app.blobs is not None and app.store is not None
    job = app.store.get(job_id)
    assert job is not None
    return job.inline_input


def test_inputs_up_to_the_limit_live_in_the_record_and_larger_or_saved_ones_in_s3(
    make_berth_system: Callable[..., BerthSystem],
) -> None:
    system = make_berth_system(inline_input_bytes=LIMIT)
    at_limit, over_limit = b"q" * LIMIT, b"q" * (LIMIT + 1)
    with clients(system) as (submission, execution):
        user = Submitter(submission, system.tokens["developer"])
        inline = submit(user, at_limit)
        large = submit(user, over_limit)
        saved = submit(user, at_limit, save_job=True)
        assert stored_inputs(system) == {large, saved}
        assert record_input(system, inline) == at_limit
        assert record_input(system, large) is None and record_input(system, saved) is None
        system.restart()  # no payload in memory now: each comes from where it was stored
        agent = Agent(execution, system.tokens["executor"])
        payloads = {}
        for _ in range(3):
            assigned = agent.assign()
            assert assigned is not None
            payloads[assigned.job_id] = assigned.job.program.payload
        assert payloads == {inline: at_limit, large: over_limit, saved: at_limit}


def test_inline_inputs_can_be_turned_off(make_berth_system: Callable[..., BerthSystem]) -> None:
    system = make_berth_system(inline_input_bytes=0)
    with clients(system) as (submission, _):
        job_id = submit(Submitter(submission, system.tokens["developer"]), b"tiny")
        assert stored_inputs(system) == {job_id}
        assert record_input(system, job_id) is None
