"""Wake-ups for WatchJob streams and AssignNextJob long-polls.

Only this replica's changes are signalled here; watchers also re-read the
store on a short interval so that changes made through another replica are
seen too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from scheduler.domain.jobs import JobRecord


class JobEvents:
    """Per-job change feed: each watcher gets every record this replica writes.

    Records are delivered, not just a wake-up, so a watcher sees RUNNING even
    when COMPLETED follows a millisecond later.
    """

    def __init__(self) -> None:
        self._watchers: dict[str, list[asyncio.Queue[JobRecord]]] = {}

    def notify(self, job: JobRecord) -> None:
        for queue in self._watchers.get(job.job_id, ()):
            queue.put_nowait(job)

    @contextlib.contextmanager
    def subscribe(self, job_id: str) -> Iterator[asyncio.Queue[JobRecord]]:
        queue: asyncio.Queue[JobRecord] = asyncio.Queue()
        self._watchers.setdefault(job_id, []).append(queue)
        try:
            yield queue
        finally:
            watchers = self._watchers[job_id]
            watchers.remove(queue)
            if not watchers:
                del self._watchers[job_id]


class QueueSignals:
    """One condition per queue: a push wakes the agents long-polling that queue."""

    def __init__(self) -> None:
        # queue key -> (condition, number of long-polls waiting on it)
        self._conditions: dict[str, tuple[asyncio.Condition, int]] = {}
        self.closed = False

    async def close(self) -> None:
        """Shutdown: long-polls return empty at once, so agents reconnect elsewhere quickly."""
        self.closed = True
        await self.notify_all()

    async def notify(self, queue_key: str) -> None:
        entry = self._conditions.get(queue_key)
        if entry is None:
            return  # nobody is waiting on this queue
        condition = entry[0]
        async with condition:
            condition.notify_all()

    def waiting(self) -> int:
        """Long-polls parked right now (all queues)."""
        return sum(waiting for _, waiting in self._conditions.values())

    async def notify_all(self) -> None:
        for queue_key in list(self._conditions):
            await self.notify(queue_key)

    async def wait(self, queue_key: str, timeout_s: float) -> None:
        condition, waiting = self._conditions.get(queue_key, (asyncio.Condition(), 0))
        self._conditions[queue_key] = (condition, waiting + 1)
        try:
            async with condition:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(condition.wait(), timeout_s)
        finally:
            # Conditions live only while someone waits: agents naming arbitrary
            # backends cannot make this grow.
            condition, waiting = self._conditions[queue_key]
            if waiting <= 1:
                del self._conditions[queue_key]
            else:
                self._conditions[queue_key] = (condition, waiting - 1)
