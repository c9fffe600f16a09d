"""Levels read at scrape time: queue depth and bytes, running jobs, agents, token cache.

Reading them when Prometheus asks costs nothing between scrapes and can
never drift from the truth the way a gauge updated at every change can.
The scrape arrives on the HTTP server's thread while the queues change on
the event loop, so the snapshot is taken on the loop: it sees one
consistent state and never races a push or a pop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from scheduler.auth.cached_token_verifier import CacheStats, CachingTokenVerifier
from scheduler.auth.token_verifier import TokenVerifier
from scheduler.metrics.agent_sightings import AgentSightings
from scheduler.queue.queue_set import UNIFIED
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.replica_jobs import ReplicaJobs

log = logging.getLogger(__name__)

SNAPSHOT_TIMEOUT_S = 5.0


@dataclass
class _Snapshot:
    queue_length: dict[str, int] = field(default_factory=dict)
    queue_bytes: dict[str, int] = field(default_factory=dict)
    queue_bytes_limit: int = 0
    running: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)
    token_cache: CacheStats | None = None


class StateCollector(Collector):
    def __init__(
        self,
        jobs: ReplicaJobs,
        backend_status: BackendStatusCache,
        agents: AgentSightings,
        verifier: TokenVerifier | None,
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._jobs = jobs
        self._backend_status = backend_status
        self._clock = clock
        self._agents = agents
        self._verifier = verifier
        self._loop = loop

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # names are dynamic per backend; nothing to check for collisions

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        snapshot = self._snapshot_on_loop()
        if snapshot is None:
            return
        yield _gauge("berth_queue_length", "Jobs waiting in the queue.", snapshot.queue_length)
        yield _gauge("berth_queue_bytes", "Bytes of the queued jobs.", snapshot.queue_bytes)
        limit = GaugeMetricFamily(
            "berth_queue_bytes_limit", "SCHEDULER_MAX_QUEUE_BYTES: all queues together."
        )
        limit.add_metric([], snapshot.queue_bytes_limit)
        yield limit
        yield _gauge(
            "berth_jobs_running",
            "Jobs running under a lease this replica watches.",
            snapshot.running,
        )
        yield _gauge(
            "berth_agents_seen",
            f"Distinct agents that polled, heartbeated or reported in the last "
            f"{self._agents.window_s:g} s, by the backend they serve.",
            snapshot.agents,
        )
        if snapshot.token_cache is not None:
            yield from _token_cache(snapshot.token_cache)

    def _snapshot_on_loop(self) -> _Snapshot | None:
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            return self._snapshot()
        if self._loop.is_closed():
            return None
        future = asyncio.run_coroutine_threadsafe(self._snapshot_async(), self._loop)
        try:
            return future.result(SNAPSHOT_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            log.warning("metrics: the event loop did not answer within %gs", SNAPSHOT_TIMEOUT_S)
            return None

    async def _snapshot_async(self) -> _Snapshot:
        return self._snapshot()

    def _snapshot(self) -> _Snapshot:
        jobs = self._jobs
        backends = set(self._backend_status.backends())
        queue_keys = {UNIFIED} if jobs.unify_backends else set(backends)
        queue_keys.update(jobs.queue_keys())
        running = Counter(job.backend for job in jobs.running_jobs())
        agents = self._agents.per_backend(self._clock())
        stats = self._verifier.stats if isinstance(self._verifier, CachingTokenVerifier) else None
        return _Snapshot(
            queue_length={key: jobs.queue_length(key) for key in queue_keys},
            queue_bytes={key: jobs.queued_bytes(key) for key in queue_keys},
            queue_bytes_limit=jobs.max_queue_bytes,
            running={backend: running[backend] for backend in backends | set(running)},
            agents={backend: agents.get(backend, 0) for backend in backends | set(agents)},
            token_cache=stats,
        )


def _gauge(name: str, documentation: str, per_backend: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["backend"])
    for backend in sorted(per_backend):
        family.add_metric([backend], per_backend[backend])
    return family


def _token_cache(stats: CacheStats) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    lookups = CounterMetricFamily(
        "berth_token_cache_lookups",
        "Token verifications by cache result: hit, miss (asked the token database) or "
        "coalesced (joined a lookup already in flight).",
        labels=["result"],
    )
    lookups.add_metric(["hit"], stats.hits)
    lookups.add_metric(["miss"], stats.misses)
    lookups.add_metric(["coalesced"], stats.coalesced)
    yield lookups
    entries = GaugeMetricFamily("berth_token_cache_entries", "Tokens held in the cache.")
    entries.add_metric([], stats.size)
    yield entries
