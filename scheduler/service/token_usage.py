"""Per-token count of queued + running jobs (SCHEDULER_MAX_CONCURRENT_JOBS_<ROLE>)."""

from __future__ import annotations


class TokenUsage:
    """In-memory and rebuilt from the job table on start, so it survives restarts."""

    def __init__(self) -> None:
        self._active: dict[str, int] = {}

    def try_acquire(self, owner: str, limit: int) -> bool:
        count = self._active.get(owner, 0)
        if count >= limit:
            return False
        self._active[owner] = count + 1
        return True

    def force_acquire(self, owner: str) -> None:
        """Count a job that already exists (restart), whatever the limit."""
        self._active[owner] = self._active.get(owner, 0) + 1

    def release(self, owner: str) -> None:
        count = self._active.get(owner, 0) - 1
        if count > 0:
            self._active[owner] = count
        else:
            self._active.pop(owner, None)

    def active(self, owner: str) -> int:
        return self._active.get(owner, 0)
