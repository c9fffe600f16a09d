"""One replica's service layer, wired once: for the scheduler and for tests alike.

The lifecycle owns every job's state; the operations of each port and the
background steps share it and a few explicit collaborators, nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.backend_status.backend_status import BackendStatusEditor
from scheduler.blob_store.blob_store import BlobStore
from scheduler.config import SchedulerConfig
from scheduler.job_store.job_store import JobStore
from scheduler.metrics.scheduler_metrics import SchedulerMetrics
from scheduler.queue.fair_share import FairShareTracker
from scheduler.queue.priority import PriorityPolicy
from scheduler.queue.queue_set import QueueSet
from scheduler.service.administration import AdministrationOperations
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.executions import ExecutionOperations
from scheduler.service.holds import HoldOperations
from scheduler.service.job_arrays import JobArrays
from scheduler.service.job_events import JobEvents, QueueSignals
from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.job_reads import FinishedJobs, JobReads
from scheduler.service.lease_monitor import LeaseMonitor
from scheduler.service.replica_sync import ReplicaSync
from scheduler.service.submissions import SubmissionOperations
from scheduler.service.tracked_jobs import LifecyclePorts
from scheduler.service.usage_reads import UsageReads


@dataclass(frozen=True)
class ServiceLayer:
    lifecycle: JobLifecycle
    signals: QueueSignals  # closed at shutdown: parked long-polls return at once
    submissions: SubmissionOperations
    arrays: JobArrays
    usage: UsageReads
    executions: ExecutionOperations
    administration: AdministrationOperations
    monitor: LeaseMonitor
    replica_sync: ReplicaSync
    holds: HoldOperations


def build_service_layer(
    config: SchedulerConfig,
    policy: PriorityPolicy,
    store: JobStore,
    blobs: BlobStore,
    backend_status: BackendStatusCache,
    status_editor: BackendStatusEditor,
    ports: LifecyclePorts,
    *,
    metrics: SchedulerMetrics,
    clock: Callable[[], float] = time.time,
) -> ServiceLayer:
    """The layer over these stores; nothing started, nothing read yet (see recovery.py)."""
    events, signals = JobEvents(), QueueSignals()
    finished = FinishedJobs(config.finished_job_cache_entries, clock)
    queues = QueueSet(policy, config.max_queue_bytes, config.unify_backends)
    lifecycle = JobLifecycle(
        config,
        store,
        blobs,
        queues,
        ports,
        events=events,
        signals=signals,
        finished=finished,
        metrics=metrics,
        clock=clock,
    )
    sync = ReplicaSync(lifecycle, store, ports.execution, config.replica_sync_seconds, clock=clock)
    submissions = SubmissionOperations(
        config,
        lifecycle,
        store=store,
        blobs=blobs,
        reads=JobReads(store, ports.submission, finished),
        events=events,
        backend_status=backend_status,
        io=ports.submission,
        fair_share=FairShareTracker(policy.fair_share_half_life_s),
        clock=clock,
    )
    executions = ExecutionOperations(
        config,
        lifecycle,
        store=store,
        blobs=blobs,
        signals=signals,
        agents=metrics.agents,
        io=ports.execution,
        clock=clock,
        on_empty_poll=sync.request,
    )
    administration = AdministrationOperations(
        lifecycle,
        store=store,
        backend_status=backend_status,
        status_editor=status_editor,
        io=ports.submission,
        clock=clock,
    )
    return ServiceLayer(
        lifecycle=lifecycle,
        signals=signals,
        submissions=submissions,
        arrays=JobArrays(
            config,
            lifecycle,
            submissions,
            store=store,
            backend_status=backend_status,
            io=ports.submission,
            clock=clock,
        ),
        usage=UsageReads(store, ports.submission, config.job_retention_days, clock),
        executions=executions,
        administration=administration,
        monitor=LeaseMonitor(lifecycle, config.lease_seconds, clock),
        replica_sync=sync,
        holds=HoldOperations(lifecycle, submissions=submissions, store=store, io=ports.submission),
    )
