"""A background loop on the event loop: one step every interval until stopped.

The lease monitor, the orphan sweep and the backend-status refresh all run
this way. A step that finds a dependency unavailable is retried at the next
interval; the outage is logged once when it starts and once when it ends, not
at every interval, and any other failure is logged with its traceback without
ending the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from scheduler.domain.errors import Unavailable

log = logging.getLogger(__name__)


class PeriodicTask:
    def __init__(
        self, name: str, interval_s: Callable[[], float], step: Callable[[], Awaitable[object]]
    ) -> None:
        self._name = name
        self._interval_s = interval_s
        self._step = step
        self._failing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s())
            try:
                await self._step()
            except Unavailable as error:
                if not self._failing:
                    log.warning("%s: a dependency is unavailable, retrying: %s", self._name, error)
                self._failing = True
            except Exception:
                log.exception("%s: unexpected error", self._name)
            else:
                if self._failing:
                    log.info("%s: dependencies available again", self._name)
                self._failing = False
