"""Which agents this replica heard from recently, by the backend they serve.

An agent is seen when it polls for work (AssignNextJob names its backend)
and while it runs a job (heartbeats and reports), so an agent busy with a
long job does not drop out of the count. Entries older than the window are
forgotten, so memory follows the live fleet, not every agent id ever used.
"""

from __future__ import annotations

from collections import Counter

AGENT_WINDOW_S = 300.0


class AgentSightings:
    def __init__(self, window_s: float = AGENT_WINDOW_S) -> None:
        self.window_s = window_s
        self._last: dict[str, tuple[str, float]] = {}  # agent id -> (backend, last seen)
        self._pruned_at = 0.0

    def polled(self, agent_id: str, backend: str, now: float) -> None:
        self._last[agent_id] = (backend, now)
        self._prune_now_and_then(now)

    def active(self, agent_id: str, job_backend: str, now: float) -> None:
        """A heartbeat or report: keeps the backend the agent polled for, if known."""
        backend = self._last.get(agent_id, (job_backend, now))[0]
        self._last[agent_id] = (backend, now)
        self._prune_now_and_then(now)

    def per_backend(self, now: float) -> dict[str, int]:
        self._prune(now)
        return dict(Counter(backend for backend, _ in self._last.values()))

    def seen(self, now: float) -> dict[str, tuple[str, float]]:
        """agent id -> (backend, last seen) for every agent within the window."""
        self._prune(now)
        return dict(self._last)

    def _prune_now_and_then(self, now: float) -> None:
        if now - self._pruned_at >= self.window_s:
            self._prune(now)

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        self._last = {agent: seen for agent, seen in self._last.items() if seen[1] >= cutoff}
        self._pruned_at = now
