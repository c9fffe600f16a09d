"""Judges waiting jobs again soon after one of their dependencies may have ended.

The lifecycle asks (`request`) when a job ends that waiting jobs here depend
on; one task then reads every dependency of the jobs asked about in one
consistent batch read and hands each verdict that is not "still waiting" to
the lifecycle, which promotes the job or ends it (conditional writes: two
replicas judging one job cannot both win). Requests made while a judgement is
out join the next one. A read that fails is not retried here: the replica
sync judges again every waiting job with a dependency this replica does not
know as queued, running or waiting (job_lifecycle.py `judge_waiting`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable

from scheduler.domain.dependencies import Outcome, Verdict, judge
from scheduler.domain.errors import Unavailable
from scheduler.domain.jobs import JobRecord
from scheduler.service.waiting_jobs import WaitingJobs

log = logging.getLogger(__name__)

_WRITES_AT_ONCE = 16

Read = Callable[[Collection[str]], Awaitable[dict[str, JobRecord]]]
Decide = Callable[[str, Verdict], Awaitable[JobRecord | None]]


class DependencyResolver:
    def __init__(self, waiting: WaitingJobs, read: Read, decide: Decide) -> None:
        self._waiting = waiting
        self._read = read
        self._decide = decide
        self._asked: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def request(self, job_ids: Iterable[str]) -> None:
        """Judge these waiting jobs soon. Cheap; calls coalesce."""
        self._asked.update(job_ids)
        if self._asked and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="dependencies")

    async def settled(self) -> None:
        """Until every judgement asked for so far is made (or its read failed)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while self._asked:
            batch, self._asked = self._asked, set()
            try:
                await self.resolve(batch)
            except Unavailable as error:
                log.warning(
                    "dependencies of %d waiting jobs left to the replica sync: %s",
                    len(batch),
                    error,
                )
            except Exception:
                log.exception("judging the dependencies of %d waiting jobs failed", len(batch))

    async def resolve(self, job_ids: Collection[str]) -> dict[str, JobRecord]:
        """Judge these waiting jobs now; the records of those promoted or ended. Raises
        Unavailable when the dependencies cannot be read."""
        jobs = [job for job_id in job_ids if (job := self._waiting.get(job_id)) is not None]
        if not jobs:
            return {}
        records = await self._read({d for job in jobs for d in job.depends_on})
        decided: list[tuple[str, Verdict]] = []
        for job in jobs:
            states = {d: (r.status if (r := records.get(d)) else None) for d in job.depends_on}
            verdict = judge(job.condition, states)
            if verdict.outcome is Outcome.WAITING:
                job.pending = frozenset(verdict.pending)
            else:
                decided.append((job.job_id, verdict))
        changed: dict[str, JobRecord] = {}
        # A parent of a large array frees all its members at once: a few writes at a time.
        for start in range(0, len(decided), _WRITES_AT_ONCE):
            chunk = decided[start : start + _WRITES_AT_ONCE]
            after = await asyncio.gather(*(self._apply(job_id, v) for job_id, v in chunk))
            changed.update((record.job_id, record) for record in after if record is not None)
        return changed

    async def _apply(self, job_id: str, verdict: Verdict) -> JobRecord | None:
        if job_id not in self._waiting:  # decided meanwhile
            return None
        return await self._decide(job_id, verdict)
