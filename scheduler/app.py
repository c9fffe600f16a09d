"""Wires configuration, AWS-backed stores, the job service and both servers.

Start-up order matters: the backend-status document and the queue are
loaded before the ports open, so the first request already sees a complete
picture; shutdown first stops taking new work, then lets in-flight calls end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from scheduler.auth.cached_token_verifier import CachingTokenVerifier
from scheduler.auth.grpc_token_verifier import GrpcTokenVerifier
from scheduler.auth.token_verifier import TokenVerifier
from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.resource_names import resolve_resource_names
from scheduler.backend_status.ssm_backend_status import SsmBackendStatusSource
from scheduler.blob_store.s3_blob_store import S3BlobStore
from scheduler.config import SchedulerConfig
from scheduler.grpc_api.execution_servicer import ExecutionServicer
from scheduler.grpc_api.servers import (
    RunningServer,
    start_execution_server,
    start_submission_server,
)
from scheduler.grpc_api.submission_servicer import SubmissionServicer
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler.queue.fair_share import FairShareTracker
from scheduler.queue.priority import PriorityPolicy
from scheduler.queue.queue_set import QueueSet
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.executions import ExecutionOperations
from scheduler.service.lease_monitor import LeaseMonitor
from scheduler.service.recovery import restore
from scheduler.service.scheduler_state import SchedulerState
from scheduler.service.submissions import SubmissionOperations

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The scheduler cannot start; the message says which dependency and why."""


def aws_settings(config: SchedulerConfig) -> AwsSettings:
    return AwsSettings(
        region=config.region,
        access_key_id=config.aws_access_key_id,
        secret_access_key=config.aws_secret_access_key,
        endpoint=config.endpoint,
        s3_endpoint=config.s3_endpoint,
    )


def priority_policy(config: SchedulerConfig) -> PriorityPolicy:
    return PriorityPolicy(
        timeout_weight=config.priority_weight_timeout,
        role_weight=config.priority_weight_role,
        age_weight=config.priority_weight_age,
        fair_share_weight=config.priority_weight_fair_share,
        max_wait_s=config.priority_max_wait_seconds,
        fair_share_half_life_s=config.fair_share_half_life_seconds,
    )


class SchedulerApp:
    def __init__(
        self,
        config: SchedulerConfig,
        *,
        verifier: TokenVerifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self._verifier = verifier
        self._owns_verifier = verifier is None
        self.state: SchedulerState | None = None
        self.submission: RunningServer | None = None
        self.execution: RunningServer | None = None
        self._monitor: LeaseMonitor | None = None
        self._backend_status: BackendStatusCache | None = None
        self._ios: list[BlockingIo] = []

    async def start(self) -> None:
        config = self.config
        settings = aws_settings(config)
        submission_io = BlockingIo(config.submission_max_workers, "submission-io")
        execution_io = BlockingIo(config.execution_max_workers, "execution-io")
        self._ios = [submission_io, execution_io]
        ssm = make_client("ssm", settings)
        bucket, table = await execution_io.run(
            resolve_resource_names, ssm, config.job_bucket_name_key, config.job_table_name_key
        )
        store = DynamoDbJobStore(make_client("dynamodb", settings), table)
        blobs = S3BlobStore(make_client("s3", settings), bucket)
        self._backend_status = BackendStatusCache(
            SsmBackendStatusSource(ssm, config.backend_status_parameter_name),
            execution_io,
            config.backend_status_refresh_seconds,
        )
        if not await self._backend_status.refresh():
            raise StartupError(
                f"cannot read the backend status parameter {config.backend_status_parameter_name!r}"
                " (--backend_status_parameter_name); see the log line above"
            )
        policy = priority_policy(config)
        queues = QueueSet(policy, config.max_queue_bytes, config.unify_backends)
        state = SchedulerState(
            config,
            store,
            blobs,
            self._backend_status,
            queues,
            submission_io,
            execution_io,
            self._clock,
        )
        self.state = state
        await restore(state)
        if self._verifier is None:
            self._verifier = CachingTokenVerifier(
                GrpcTokenVerifier(config.address_to_token_database),
                ttl_s=config.token_cache_seconds,
            )
        submissions = SubmissionOperations(state, FairShareTracker(policy.fair_share_half_life_s))
        executions = ExecutionOperations(state)
        self.submission = await start_submission_server(
            config.bind_host,
            config.port_for_submission,
            config.submission_max_message_length,
            SubmissionServicer(submissions),
            self._verifier,
        )
        self.execution = await start_execution_server(
            config.bind_host,
            config.port_for_execution,
            config.execution_max_message_length,
            ExecutionServicer(executions, self._clock),
            self._verifier,
        )
        self._monitor = LeaseMonitor(state)
        self._monitor.start()
        self._backend_status.start()
        log.info(
            "scheduler listening: submission port %d, execution port %d; table %s, bucket %s",
            self.submission.port,
            self.execution.port,
            table,
            bucket,
        )

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop taking work, let in-flight calls finish within the grace period."""
        grace = self.config.grace_seconds if grace_s is None else grace_s
        servers = [s for s in (self.submission, self.execution) if s is not None]
        for server in servers:
            await server.set_serving(False)
        if self.state is not None:
            await self.state.begin_shutdown()
        await asyncio.gather(*(server.server.stop(grace) for server in servers))
        for task_owner in (self._monitor, self._backend_status):
            if task_owner is not None:
                await task_owner.stop()
        if self._owns_verifier and isinstance(self._verifier, CachingTokenVerifier):
            await self._verifier.close()
        for io in self._ios:
            io.shutdown()
        log.info("scheduler stopped")
