"""ListAgents and GetActivity against a real in-process scheduler, and the hour of samples."""

from __future__ import annotations

import grpc
from berth.scheduler.v1 import admin_pb2, admin_pb2_grpc, submission_pb2

from scheduler.metrics.throughput_history import ThroughputHistory
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, bearer, clients, rpc_error


def _admin(channel: grpc.Channel) -> admin_pb2_grpc.AdminServiceStub:
    return admin_pb2_grpc.AdminServiceStub(channel)


def test_list_agents_shows_backend_token_id_running_jobs_and_version(
    berth_system: BerthSystem,
) -> None:
    with clients(berth_system) as (submission, execution):
        admin = bearer(berth_system.tokens["admin"])
        developer = Submitter(submission, berth_system.tokens["developer"])
        busy = Agent(execution, berth_system.tokens["executor"], "agent-busy")
        idle = Agent(execution, berth_system.tokens["executor"], "agent-idle")
        job_id = developer.submit()
        assigned = busy.assign()
        assert assigned is not None and assigned.job_id == job_id
        assert idle.assign("qpu", wait_s=0.1) is None

        listed = _admin(submission).ListAgents(admin_pb2.ListAgentsRequest(), metadata=admin)
        agents = {agent.agent_id: agent for agent in listed.agents}
        assert [a.agent_id for a in listed.agents] == ["agent-busy", "agent-idle"]  # by backend
        assert agents["agent-busy"].backend == "emulator"
        assert list(agents["agent-busy"].running_job_ids) == [job_id]
        assert agents["agent-idle"].backend == "qpu" and not agents["agent-idle"].running_job_ids
        token_id = agents["agent-busy"].token_id
        assert token_id and token_id not in berth_system.tokens["executor"]
        assert agents["agent-busy"].last_seen.seconds > 0
        assert listed.window.seconds == 300

        encoded = busy.upload(assigned.result_upload, b"ok")
        busy.report(job_id, raw=2, encoded=len(encoded))
        after = _admin(submission).ListAgents(
            admin_pb2.ListAgentsRequest(backend="emulator"), metadata=admin
        )
        assert [a.agent_id for a in after.agents] == ["agent-busy"]
        assert not after.agents[0].running_job_ids
        assert after.agents[0].agent_version == "test-agent"


def test_get_activity_shows_each_backend_now_and_jobs_finished(
    berth_system: BerthSystem,
) -> None:
    with clients(berth_system) as (submission, execution):
        admin = bearer(berth_system.tokens["admin"])
        developer = Submitter(submission, berth_system.tokens["developer"])
        agent = Agent(execution, berth_system.tokens["executor"])
        developer.submit()
        agent.run(b"done")
        running = developer.submit()
        assigned = agent.assign()
        assert assigned is not None and assigned.job_id == running
        developer.submit()

        activity = _admin(submission).GetActivity(admin_pb2.GetActivityRequest(), metadata=admin)
        backends = {b.backend: b for b in activity.backends}
        assert sorted(backends) == ["emulator", "qpu"]
        emulator = backends["emulator"]
        assert (emulator.queue_length, emulator.running, emulator.agents) == (1, 1, 1)
        assert emulator.finished_last_hour == 1
        assert {r.role for r in emulator.roles} == {"admin", "developer", "guest"}
        assert all(r.availability == submission_pb2.AVAILABILITY_AVAILABLE for r in emulator.roles)
        assert backends["qpu"].queue_length == 0 and backends["qpu"].finished_last_hour == 0
        assert activity.as_of.seconds > 0


def _refused(
    stub: admin_pb2_grpc.AdminServiceStub, metadata: tuple[tuple[str, str]]
) -> list[grpc.StatusCode]:
    return [
        rpc_error(lambda: stub.ListAgents(admin_pb2.ListAgentsRequest(), metadata=metadata)).code(),
        rpc_error(
            lambda: stub.GetActivity(admin_pb2.GetActivityRequest(), metadata=metadata)
        ).code(),
    ]


def test_the_new_admin_methods_refuse_other_roles(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, _):
        stub = _admin(submission)
        for role in ("developer", "guest"):
            assert (
                _refused(stub, bearer(berth_system.tokens[role]))
                == [grpc.StatusCode.PERMISSION_DENIED] * 2
            )
        bad = rpc_error(
            lambda: stub.ListAgents(
                admin_pb2.ListAgentsRequest(backend="no such!"),
                metadata=bearer(berth_system.tokens["admin"]),
            )
        )
        assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_history_keeps_an_hour_of_minute_samples_and_counts_jobs_ended_between() -> None:
    history = ThroughputHistory()
    history.ended("qpu")
    history.ended("qpu")
    history.sample(60.0, {"qpu": 3}, {"qpu": 1})
    history.ended("qpu")
    assert history.finished_last_hour() == {"qpu": 3}
    for minute in range(2, 63):
        history.sample(minute * 60.0, {"qpu": minute}, {})
    samples = history.samples()
    assert samples[0].at == 120.0 and samples[-1].at == 3720.0  # an hour back, no further
    assert len(samples) == 61
    assert samples[0].finished == 1
    assert history.finished_last_hour() == {"qpu": 1}  # the first minute's two aged out
