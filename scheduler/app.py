"""Wires configuration, AWS-backed stores, the job service and both servers.

Start-up order matters: the backend-status document is read before the
ports open; the job table is restored behind them (see recovery.py), so
running jobs' agents are answered at once however long the queue is.
Shutdown first stops taking new work, then lets in-flight calls end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from scheduler.auth.cached_token_verifier import CachingTokenVerifier
from scheduler.auth.grpc_token_verifier import GrpcTokenVerifier
from scheduler.auth.rate_limit import RateLimit, RequestRateLimiter
from scheduler.auth.token_database_watch import TokenDatabaseWatch
from scheduler.auth.token_verifier import TokenVerifier
from scheduler.aws.aws_errors import failure_reason
from scheduler.aws.aws_settings import AwsSettings, make_boto3_session, make_client
from scheduler.aws.provision import ttl_problem
from scheduler.aws.resource_names import resolve_resource_names
from scheduler.aws.table_definitions import JOB_EXPIRY
from scheduler.backend_status.ssm_backend_status import SsmBackendStatusSource
from scheduler.blob_store.blob_store import BlobStore
from scheduler.blob_store.s3_blob_store import S3BlobStore
from scheduler.config import SchedulerConfig
from scheduler.domain.errors import Unavailable
from scheduler.grpc_api.admin_servicer import AdminServicer
from scheduler.grpc_api.call_telemetry import CallTelemetryInterceptor
from scheduler.grpc_api.execution_servicer import ExecutionServicer
from scheduler.grpc_api.servers import (
    MessageLimits,
    RunningServer,
    bind_execution_port,
    bind_submission_port,
    execution_services,
    submission_services,
)
from scheduler.grpc_api.submission_servicer import SubmissionServicer
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler.job_store.job_store import JobStore
from scheduler.metrics.metrics_server import MetricsServer, start_metrics_server
from scheduler.metrics.scheduler_metrics import SchedulerMetrics
from scheduler.metrics.state_collector import StateCollector
from scheduler.metrics.throughput_history import SAMPLE_INTERVAL_S
from scheduler.queue.priority import PriorityPolicy
from scheduler.service.activity import Activity
from scheduler.service.agent_directory import AgentDirectory
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.lease_monitor import LeaseMonitor
from scheduler.service.orphan_sweep import OrphanSweep
from scheduler.service.periodic_task import PeriodicTask
from scheduler.service.recovery import restore
from scheduler.service.replica_sync import ReplicaSync
from scheduler.service.service_layer import ServiceLayer, build_service_layer
from scheduler.service.tracked_jobs import LifecyclePorts

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The scheduler cannot start; the message says which dependency and why."""


class FatalError(RuntimeError):
    """The scheduler cannot go on serving (a defect): the process ends, non-zero, rather
    than answering UNAVAILABLE forever; the message says what failed."""


@contextmanager
def _dependency(what: str, config: SchedulerConfig) -> Iterator[None]:
    """An AWS failure while starting becomes one line: the step, the cause, what to check."""
    try:
        yield
    except (BotoCoreError, ClientError, Unavailable) as error:
        check = (
            f"--endpoint {config.endpoint} (it must serve SSM, DynamoDB and S3)"
            if config.endpoint
            else "the AWS region (--region), credentials and permissions"
        )
        raise StartupError(f"{what}: {failure_reason(error)}; check {check}") from error


def aws_settings(config: SchedulerConfig) -> AwsSettings:
    return AwsSettings(
        region=config.region,
        access_key_id=config.aws_access_key_id,
        secret_access_key=config.aws_secret_access_key,
        endpoint=config.endpoint,
        s3_endpoint=config.s3_endpoint,
        # Each client is shared by both ports' pools and the orphan sweep's thread.
        max_pool_connections=config.submission_max_workers + config.execution_max_workers + 1,
    )


def priority_policy(config: SchedulerConfig) -> PriorityPolicy:
    return PriorityPolicy(
        timeout_weight=config.priority_weight_timeout,
        role_weight=config.priority_weight_role,
        age_weight=config.priority_weight_age,
        fair_share_weight=config.priority_weight_fair_share,
        max_wait_s=config.priority_max_wait_seconds,
        fair_share_half_life_s=config.fair_share_half_life_seconds,
        role_max_timeout_s=config.max_timeout_seconds,
    )


def request_rate_limiter(config: SchedulerConfig) -> RequestRateLimiter:
    return RequestRateLimiter(
        {
            role: RateLimit(per_second=rate, burst=max(rate, 1.0))
            for role, rate in config.rate_limit_per_second.items()
        }
    )


def _warn_about_message_limits(config: SchedulerConfig) -> None:
    for flag, limit in (
        ("--submission-max-message-length", config.submission_max_message_length),
        ("--execution-max-message-length", config.execution_max_message_length),
    ):
        if limit is not None and limit < config.largest_job_bytes:
            log.warning(
                "%s=%d is below the largest SCHEDULER_MAX_JOB_BYTES_<ROLE> (%d): gRPC refuses "
                "such jobs with RESOURCE_EXHAUSTED before Berth can name the limit",
                flag,
                limit,
                config.largest_job_bytes,
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
        self.layer: ServiceLayer | None = None
        self.store: JobStore | None = None
        self.blobs: BlobStore | None = None
        self.submission: RunningServer | None = None
        self.execution: RunningServer | None = None
        self._monitor: LeaseMonitor | None = None
        self._watch: TokenDatabaseWatch | None = None
        self._backend_status: BackendStatusCache | None = None
        self.replica_sync: ReplicaSync | None = None
        self._sweep: OrphanSweep | None = None
        self._sampler: PeriodicTask | None = None
        self._restore: asyncio.Task[None] | None = None
        self._ios: list[BlockingIo] = []
        self.metrics = SchedulerMetrics()
        self.metrics_server: MetricsServer | None = None

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            for server in (self.submission, self.execution):
                if server is not None:
                    await server.server.stop(None)
            raise

    async def _start(self) -> None:
        config = self.config
        if self._verifier is None:
            token_database = GrpcTokenVerifier(config.address_to_token_database)
            self._verifier = CachingTokenVerifier(token_database, ttl_s=config.token_cache_seconds)
            self._watch = TokenDatabaseWatch(
                token_database.answers, config.token_database_grace_seconds, self._serving_changed
            )
        # Both ports first: a second scheduler on a taken port stops before loading anything.
        telemetry = CallTelemetryInterceptor(self.metrics)
        self.submission = bind_submission_port(
            config.bind_host,
            config.port_for_submission,
            MessageLimits(config.submission_receive_bytes, config.send_bytes),
            self._verifier,
            telemetry=telemetry,
            rate_limiter=request_rate_limiter(config),
            tls=config.tls_files,
        )
        self.execution = bind_execution_port(
            config.bind_host,
            config.port_for_execution,
            MessageLimits(config.execution_receive_bytes, config.send_bytes),
            self._verifier,
            telemetry=telemetry,
            tls=config.tls_files,
        )
        _warn_about_message_limits(config)
        settings = aws_settings(config)
        submission_io = BlockingIo(config.submission_max_workers, "submission-io")
        execution_io = BlockingIo(config.execution_max_workers, "execution-io")
        self._ios = [submission_io, execution_io]
        if make_boto3_session(settings).region_name is None:
            raise StartupError(
                "no AWS region: pass --region, or set AWS_DEFAULT_REGION "
                "(or a region in the AWS config file)"
            )
        ssm = make_client("ssm", settings)
        with _dependency("reading the resource names from SSM", config):
            bucket, table = await execution_io.run(
                resolve_resource_names, ssm, config.job_bucket_name_key, config.job_table_name_key
            )
        dynamodb = make_client("dynamodb", settings)
        with _dependency(f"reading the TTL of DynamoDB table {table!r}", config):
            ttl = await execution_io.run(ttl_problem, dynamodb, table, JOB_EXPIRY)
        if ttl is not None:
            log.warning(
                "DynamoDB table %s: %s, so finished jobs are never deleted; enable TTL on %r "
                "(python -m scheduler.aws provision does) or delete old jobs yourself",
                table,
                ttl,
                JOB_EXPIRY,
            )
        store = DynamoDbJobStore(dynamodb, table, retention_days=config.job_retention_days)
        blobs = S3BlobStore(make_client("s3", settings), bucket)
        status_source = SsmBackendStatusSource(ssm, config.backend_status_parameter_name)
        backend_status = BackendStatusCache(
            status_source,
            execution_io,
            config.backend_status_refresh_seconds,
        )
        self._backend_status = backend_status
        with _dependency("reading the backend status from SSM", config):
            if not await backend_status.refresh():
                raise StartupError(
                    "cannot read the backend status parameter "
                    f"{config.backend_status_parameter_name!r} (--backend_status_parameter_name);"
                    " see the log line above"
                )
        self.store, self.blobs = store, blobs
        layer = build_service_layer(
            config,
            priority_policy(config),
            store,
            blobs,
            backend_status,
            status_source,
            LifecyclePorts(submission_io, execution_io),
            metrics=self.metrics,
            clock=self._clock,
        )
        self.layer = layer
        self.replica_sync = layer.replica_sync
        self._start_metrics(layer.lifecycle, backend_status)
        jobs, sightings = layer.lifecycle.jobs, self.metrics.agents
        agents = AgentDirectory(jobs, sightings, self._clock)
        activity = Activity(jobs, backend_status, self.metrics.throughput, sightings, self._clock)
        self._sampler = PeriodicTask("activity-sampler", lambda: SAMPLE_INTERVAL_S, activity.sample)
        self._sampler.start()
        # With a token database to watch, the ports say SERVING once it has answered: asked
        # once here (at most a probe's timeout), so a scheduler that has started is ready.
        if self._watch is not None:
            await self._watch.check()
        serving = self.serving()
        self.metrics.serving(serving)
        await self.submission.serve(
            submission_services(
                SubmissionServicer(
                    layer.submissions, layer.usage, layer.arrays, layer.holds, self.serving
                ),
                AdminServicer(layer.administration, agents, activity, layer.holds),
            ),
            serving=serving,
        )
        await self.execution.serve(
            execution_services(
                ExecutionServicer(layer.executions, self._clock, backend_status, agents)
            ),
            serving=serving,
        )
        if self._watch is not None:
            self._watch.start()
        self._monitor = layer.monitor
        self._monitor.start()
        backend_status.start()
        self._restore = asyncio.create_task(self._restore_then_follow(store, blobs, execution_io))
        log.info(
            "scheduler listening: submission port %d, execution port %d; table %s, bucket %s",
            self.submission.port,
            self.execution.port,
            table,
            bucket,
        )

    def serving(self) -> bool:
        return self._watch is None or self._watch.serving

    async def _serving_changed(self, serving: bool) -> None:
        self.metrics.serving(serving)
        for server in (self.submission, self.execution):
            if server is not None:
                await server.set_serving(serving)

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop taking work, let in-flight calls finish within the grace period."""
        grace = self.config.grace_seconds if grace_s is None else grace_s
        if self._watch is not None:
            await self._watch.stop()  # it must not turn the ports back to SERVING
        servers = [s for s in (self.submission, self.execution) if s is not None]
        for server in servers:
            await server.set_serving(False)
        if self.layer is not None:
            await self.layer.signals.close()
        await asyncio.gather(*(server.server.stop(grace) for server in servers))
        if self._restore is not None:
            self._restore.cancel()
            await asyncio.gather(self._restore, return_exceptions=True)
        tasks = (self._monitor, self._backend_status, self.replica_sync, self._sweep, self._sampler)
        for task_owner in tasks:
            if task_owner is not None:
                await task_owner.stop()
        if self.layer is not None:
            await self.layer.lifecycle.stop()  # judging waiting jobs' dependencies
        if self._owns_verifier and isinstance(self._verifier, CachingTokenVerifier):
            await self._verifier.close()
        for io in self._ios:
            io.shutdown()
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        log.info("scheduler stopped")

    async def wait_restored(self) -> None:
        """Until the job table's jobs are back in memory (the ports serve before that)."""
        if self._restore is not None:
            await asyncio.shield(self._restore)

    async def until_failed(self) -> None:
        """Waits while the scheduler can serve; raises FatalError once a defect stops it."""
        if self._restore is not None:
            try:
                await asyncio.shield(self._restore)
            except asyncio.CancelledError:
                if not self._restore.cancelled():
                    raise  # this wait was cancelled, not the restore (stopped)
            except Exception as error:  # a defect, not an outage (restore retries those)
                raise FatalError(
                    f"restoring the job table failed: {type(error).__name__}: {error}"
                ) from error
        await asyncio.Event().wait()

    async def _restore_then_follow(self, store: JobStore, blobs: BlobStore, io: BlockingIo) -> None:
        """Restore the table's jobs behind the open ports, then follow other replicas."""
        assert self.layer is not None
        try:
            await restore(self.layer.lifecycle, store, io, clock=self._clock)
        except Exception:  # a defect, not an outage (restore retries those itself)
            log.exception("restoring the job table failed; the scheduler stops")
            raise
        self._start_replica_tasks(store, blobs)

    def _start_replica_tasks(self, store: JobStore, blobs: BlobStore) -> None:
        """Following other replicas' changes, and deleting inputs no record claims."""
        if self.replica_sync is not None:
            self.replica_sync.start()
        sweep_io = BlockingIo(1, "orphan-sweep")  # a long listing must not hold an RPC thread
        self._ios.append(sweep_io)
        self._sweep = OrphanSweep(
            store,
            blobs,
            sweep_io,
            interval_s=self.config.orphan_sweep_seconds,
            min_age_s=self.config.orphan_input_age_seconds,
            retention_days=self.config.job_retention_days,
            clock=self._clock,
        )
        self._sweep.start()

    def _start_metrics(self, lifecycle: JobLifecycle, backend_status: BackendStatusCache) -> None:
        collector = StateCollector(
            lifecycle.jobs,
            backend_status,
            self.metrics.agents,
            self._verifier,
            asyncio.get_running_loop(),
            self._clock,
        )
        self.metrics.registry.register(collector)
        if self.config.metrics_port < 0:
            return
        try:
            self.metrics_server = start_metrics_server(
                self.config.bind_host, self.config.metrics_port, self.metrics.registry
            )
        except OSError as error:
            raise StartupError(
                f"cannot serve metrics on port {self.config.metrics_port} (--metrics-port; "
                f"-1 turns metrics off): {error}"
            ) from error
        log.info("metrics on http://%s:%d/metrics", self.config.bind_host, self.metrics_server.port)
