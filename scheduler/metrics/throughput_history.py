"""Queue depth, running and finished jobs per backend, one sample a minute for an hour.

The dashboard draws its chart from this, so an operator needs no Prometheus
to see the last hour. Jobs that end are counted as they end (SchedulerMetrics);
levels are sampled by a periodic task. Memory is bounded: 60 samples a backend.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass

HISTORY_S = 3600.0
SAMPLE_INTERVAL_S = 60.0


@dataclass(frozen=True)
class ActivitySample:
    at: float
    backend: str
    queue_length: int
    running: int
    finished: int  # jobs ended since the previous sample


class ThroughputHistory:
    def __init__(self, history_s: float = HISTORY_S) -> None:
        self.history_s = history_s
        self._samples: deque[ActivitySample] = deque()
        self._ended: Counter[str] = Counter()  # since the last sample

    def ended(self, backend: str) -> None:
        self._ended[backend] += 1

    def sample(
        self, now: float, queue_lengths: Mapping[str, int], running: Mapping[str, int]
    ) -> None:
        for backend in sorted(set(queue_lengths) | set(running) | set(self._ended)):
            self._samples.append(
                ActivitySample(
                    now,
                    backend,
                    queue_lengths.get(backend, 0),
                    running.get(backend, 0),
                    self._ended[backend],
                )
            )
        self._ended.clear()
        while self._samples and self._samples[0].at < now - self.history_s:
            self._samples.popleft()

    def samples(self) -> list[ActivitySample]:
        return list(self._samples)

    def finished_last_hour(self) -> dict[str, int]:
        """Ended in the sampled hour plus since the last sample."""
        total = Counter(self._ended)
        for sample in self._samples:
            total[sample.backend] += sample.finished
        return dict(total)
