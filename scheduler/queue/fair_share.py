"""Per-token submission bursts for the fair-share factor.

Each token's count of recent submissions decays with a half-life, so a token
that just sent fifty jobs gets a lower fair-share factor for its next ones
than a token that sent one, and recovers on its own once it pauses. The value
at submission time is stored on the job, so a restart does not change any
queued job's priority.
"""

from __future__ import annotations

import math

# A decayed count below this is indistinguishable from "no recent submissions".
_FORGET_BELOW = 1e-3
_PRUNE_EVERY = 4096


class FairShareTracker:
    def __init__(self, half_life_s: float) -> None:
        if not half_life_s > 0:
            raise ValueError("half_life_s must be positive")
        self._decay_per_s = math.log(2.0) / half_life_s
        self._counts: dict[str, tuple[float, float]] = {}  # owner -> (count, as of)
        self._since_prune = 0

    def _decayed(self, owner: str, now: float) -> float:
        count, as_of = self._counts.get(owner, (0.0, now))
        return count * math.exp(-self._decay_per_s * max(now - as_of, 0.0))

    def record_submission(self, owner: str, now: float) -> float:
        """Count one submission; returns the burst including it (1.0 for the first)."""
        burst = self._decayed(owner, now) + 1.0
        self._counts[owner] = (burst, now)
        self._since_prune += 1
        if self._since_prune >= _PRUNE_EVERY:
            self._prune(now)
        return burst

    def current(self, owner: str, now: float) -> float:
        return self._decayed(owner, now)

    def _prune(self, now: float) -> None:
        """Forget idle tokens, so memory follows the active tokens, not all tokens ever seen."""
        self._since_prune = 0
        idle = [owner for owner in self._counts if self._decayed(owner, now) < _FORGET_BELOW]
        for owner in idle:
            del self._counts[owner]

    def __len__(self) -> int:
        return len(self._counts)
