"""The scheduler's Prometheus instruments, in a registry of their own per app.

A registry per SchedulerApp (not prometheus_client's global one) lets several
schedulers live in one process, as the tests and `--dev` restarts do.

Events are counted here as they happen; levels (queue depth, running jobs,
agents, token cache) are read at scrape time by StateCollector. Label values
are backends, statuses, RPC names and codes only: never a token, owner or
job id, so the number of series stays small and nothing secret is exported.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from scheduler.domain.jobs import JobRecord
from scheduler.metrics.agent_sightings import AgentSightings
from scheduler.metrics.throughput_history import ThroughputHistory

# From a millisecond lookup to a 30 s long-poll (AssignNextJob) and beyond.
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# From an idle agent taking a job at once to hours of waiting for scarce hardware.
DISPATCH_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600)


class SchedulerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.agents = AgentSightings()
        self.throughput = ThroughputHistory()
        self._jobs = Counter(
            "berth_jobs",
            "Jobs that reached a status through this replica (QUEUED again after a lost lease).",
            ["status", "backend"],
            registry=self.registry,
        )
        self._dispatch = Histogram(
            "berth_dispatch_latency_seconds",
            "Time a job waited in the queue before an agent was assigned it (per attempt).",
            ["backend"],
            buckets=DISPATCH_BUCKETS,
            registry=self.registry,
        )
        self._lease_expiries = Counter(
            "berth_lease_expiries",
            "Leases that lapsed without a heartbeat; outcome requeued or failed (last attempt).",
            ["backend", "outcome"],
            registry=self.registry,
        )
        rpc_labels = ["grpc_service", "grpc_method", "grpc_code"]
        self._rpcs = Counter(
            "berth_grpc_server_handled",
            "RPCs finished, by method and status code (UNAUTHENTICATED calls included).",
            rpc_labels,
            registry=self.registry,
        )
        self._rpc_seconds = Histogram(
            "berth_grpc_server_handling_seconds",
            "RPC duration from arrival to status, by method and status code.",
            rpc_labels,
            buckets=RPC_BUCKETS,
            registry=self.registry,
        )

        self._serving = Gauge(
            "berth_serving",
            "1 while both ports report SERVING: the token database answered within "
            "SCHEDULER_TOKEN_DATABASE_GRACE_SECONDS; 0 otherwise.",
            registry=self.registry,
        )

    def serving(self, serving: bool) -> None:
        self._serving.set(1 if serving else 0)

    def job_reached(self, job: JobRecord) -> None:
        """Count a transition this replica made into `job.status`."""
        self._jobs.labels(job.status.value, job.backend).inc()
        if job.status.terminal:
            self.throughput.ended(job.backend)

    def job_assigned(self, job: JobRecord, waited_s: float) -> None:
        self.job_reached(job)
        self._dispatch.labels(job.backend).observe(max(waited_s, 0.0))

    def lease_expired(self, backend: str, outcome: str) -> None:
        self._lease_expiries.labels(backend, outcome).inc()

    def rpc_finished(self, service: str, method: str, code: str, seconds: float) -> None:
        self._rpcs.labels(service, method, code).inc()
        self._rpc_seconds.labels(service, method, code).observe(seconds)
