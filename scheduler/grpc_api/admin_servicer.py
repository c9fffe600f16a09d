"""AdminService: requests in, administration calls, responses out."""

from __future__ import annotations

from typing import Any

import grpc
from berth.scheduler.v1 import admin_pb2, admin_pb2_grpc, submission_pb2

from berth_common.times import to_duration
from scheduler.auth.interceptor import principal
from scheduler.backend_status.backend_status import Availability, BackendAvailability
from scheduler.backend_status.status_change import StatusChange
from scheduler.domain.errors import InvalidArgument
from scheduler.domain.jobs import Role
from scheduler.grpc_api import convert
from scheduler.grpc_api.errors import unary
from scheduler.queue.priority import PriorityBreakdown, PriorityPolicy
from scheduler.service.activity import Activity, BackendActivity
from scheduler.service.administration import (
    AdministrationOperations,
    AdminOutcome,
    QueuedJobView,
    require_admin,
)
from scheduler.service.agent_directory import AgentDirectory, AgentView
from scheduler.service.holds import HoldOperations

Context = grpc.aio.ServicerContext[Any, Any]

AVAILABILITY_FROM_PB = {value: key for key, value in convert.AVAILABILITY_TO_PB.items()}


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(
        self,
        operations: AdministrationOperations,
        agents: AgentDirectory,
        activity: Activity,
        holds: HoldOperations,
    ) -> None:
        self._ops = operations
        self._agents = agents
        self._activity = activity
        self._holds = holds

    @unary
    async def ListQueue(
        self, request: admin_pb2.ListQueueRequest, context: Context
    ) -> admin_pb2.ListQueueResponse:
        listing = await self._ops.list_queue(principal(), request.backend, request.limit)
        policy = listing.policy
        return admin_pb2.ListQueueResponse(
            jobs=[_queued_job(view, policy) for view in listing.jobs],
            queue_lengths=listing.queue_lengths,
            weights=admin_pb2.PriorityTerms(
                age=policy.age_weight,
                timeout=policy.timeout_weight,
                role=policy.role_weight,
                fair_share=policy.fair_share_weight,
            ),
            max_wait=to_duration(policy.max_wait_s),
            as_of=convert.timestamp(listing.as_of),
        )

    @unary
    async def RequeueJob(
        self, request: admin_pb2.RequeueJobRequest, context: Context
    ) -> admin_pb2.AdminJobResponse:
        return _job_response(await self._ops.requeue(principal(), request.job_id))

    @unary
    async def FailJob(
        self, request: admin_pb2.FailJobRequest, context: Context
    ) -> admin_pb2.AdminJobResponse:
        return _job_response(await self._ops.fail(principal(), request.job_id, request.reason))

    @unary
    async def SetBackendStatus(
        self, request: admin_pb2.SetBackendStatusRequest, context: Context
    ) -> admin_pb2.SetBackendStatusResponse:
        require_admin(principal())  # before reading the request: callers learn nothing else
        change = StatusChange(
            backend=request.backend,
            role=_role(request.role),
            availability=_availability(request.availability),
            description=request.description if request.HasField("description") else None,
            add_backend=request.add_backend,
        )
        update = await self._ops.set_backend_status(principal(), change)
        return admin_pb2.SetBackendStatusResponse(
            backend=update.backend,
            roles=[_role_status(role, status) for role, status in sorted(update.roles.items())],
            changed=update.changed,
        )

    @unary
    async def ListAgents(
        self, request: admin_pb2.ListAgentsRequest, context: Context
    ) -> admin_pb2.ListAgentsResponse:
        agents = self._agents.list_agents(principal(), request.backend)
        return admin_pb2.ListAgentsResponse(
            agents=[_agent(view) for view in agents],
            window=to_duration(self._agents.window_s),
        )

    @unary
    async def GetActivity(
        self, request: admin_pb2.GetActivityRequest, context: Context
    ) -> admin_pb2.GetActivityResponse:
        report = self._activity.report(principal())
        return admin_pb2.GetActivityResponse(
            backends=[_backend_activity(b) for b in report.backends],
            samples=[
                admin_pb2.ActivitySample(
                    at=convert.timestamp(sample.at),
                    backend=sample.backend,
                    queue_length=sample.queue_length,
                    running=sample.running,
                    finished=sample.finished,
                )
                for sample in report.samples
            ],
            as_of=convert.timestamp(report.as_of),
        )

    @unary
    async def HoldJobs(
        self, request: admin_pb2.HoldJobsRequest, context: Context
    ) -> admin_pb2.HoldJobsResponse:
        outcome = await self._holds.hold_all(
            principal(), request.owner_name, request.backend, release=request.release
        )
        return admin_pb2.HoldJobsResponse(job_ids=outcome.changed, skipped=outcome.skipped)


def _role_status(role: Role, status: BackendAvailability) -> admin_pb2.BackendRoleStatus:
    return admin_pb2.BackendRoleStatus(
        role=role.value,
        availability=convert.AVAILABILITY_TO_PB[status.availability],
        description=status.description,
    )


def _agent(view: AgentView) -> admin_pb2.AgentInfo:
    return admin_pb2.AgentInfo(
        agent_id=view.agent_id,
        backend=view.backend,
        token_id=view.token_id,
        last_seen=convert.timestamp(view.last_seen),
        running_job_ids=view.running_job_ids,
        agent_version=view.version,
    )


def _backend_activity(activity: BackendActivity) -> admin_pb2.BackendActivity:
    return admin_pb2.BackendActivity(
        backend=activity.backend,
        roles=[_role_status(role, status) for role, status in activity.roles.items()],
        queue_length=activity.queue_length,
        running=activity.running,
        agents=activity.agents,
        finished_last_hour=activity.finished_last_hour,
    )


def _terms(age: float, timeout: float, role: float, fair_share: float) -> admin_pb2.PriorityTerms:
    return admin_pb2.PriorityTerms(age=age, timeout=timeout, role=role, fair_share=fair_share)


def _weighted(b: PriorityBreakdown, policy: PriorityPolicy) -> admin_pb2.PriorityTerms:
    return _terms(
        policy.age_weight * b.age_factor,
        policy.timeout_weight * b.timeout_factor,
        policy.role_weight * b.role_factor,
        policy.fair_share_weight * b.fair_share_factor,
    )


def _queued_job(view: QueuedJobView, policy: PriorityPolicy) -> admin_pb2.QueuedJob:
    entry, b = view.entry, view.breakdown
    return admin_pb2.QueuedJob(
        queue=view.queue,
        position=view.position,
        job_id=entry.job_id,
        backend=entry.backend,
        owner_name=view.owner_name,
        role=entry.role.value,
        queued_at=convert.timestamp(entry.queued_at),
        waited=to_duration(view.waited_s),
        timeout=to_duration(entry.timeout_s),
        burst=entry.burst,
        size_bytes=entry.size_bytes,
        factors=_terms(b.age_factor, b.timeout_factor, b.role_factor, b.fair_share_factor),
        weighted=_weighted(b, policy),
        priority=b.priority,
        starved=b.starved,
    )


def _job_response(outcome: AdminOutcome) -> admin_pb2.AdminJobResponse:
    return admin_pb2.AdminJobResponse(job=convert.job_info(outcome.job), changed=outcome.changed)


def _role(name: str) -> Role | None:
    if not name:
        return None
    try:
        return Role(name)
    except ValueError:
        raise InvalidArgument(
            f"unknown role {name[:32]!r}; use one of {', '.join(r.value for r in Role)} "
            "(or none for every role the backend lists)"
        ) from None


def _availability(value: submission_pb2.Availability.ValueType) -> Availability:
    availability = AVAILABILITY_FROM_PB.get(value)
    if availability is None:
        raise InvalidArgument("availability must be AVAILABLE, MAINTENANCE or UNAVAILABLE")
    return availability
