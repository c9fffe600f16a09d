"""Whether the scheduler can serve: its token database answered within the grace.

Every call is authenticated, so while the token database is silent every new
token fails UNAVAILABLE. The watch asks it at a short interval and tells the
ports' health (and GetServiceStatus and the metric) once the silence outlasts
the grace; one answer makes them SERVING again. At start, nothing has answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from scheduler.service.periodic_task import PeriodicTask

log = logging.getLogger(__name__)

MAX_PROBE_INTERVAL_S = 2.0


class TokenDatabaseWatch:
    def __init__(
        self,
        answers: Callable[[float], Awaitable[bool]],
        grace_s: float,
        on_change: Callable[[bool], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._answers = answers
        self._grace_s = grace_s
        self._on_change = on_change
        self._clock = clock
        # A few probes fit in the grace, so a silence is noticed soon after it outlasts it.
        self.interval_s = min(grace_s / 3, MAX_PROBE_INTERVAL_S)
        self._last_answer: float | None = None
        self._checked = False
        self.serving = False
        # The first probe at once: a scheduler should not wait an interval to say SERVING.
        self._loop = PeriodicTask(
            "token-database-watch",
            lambda: self.interval_s if self._checked else 0.0,
            self.check,
        )

    async def check(self) -> None:
        """One probe, and the verdict it leads to."""
        first, self._checked = not self._checked, True
        answered = await self._answers(self.interval_s)
        now = self._clock()
        if answered:
            self._last_answer = now
        serving = self._last_answer is not None and now - self._last_answer <= self._grace_s
        if serving == self.serving:
            if first:
                log.warning("token database has not answered yet: NOT_SERVING until it does")
            return
        self.serving = serving
        if serving:
            log.info("token database answers: serving")
        else:
            log.warning(
                "token database silent for over %.1fs: NOT_SERVING until it answers",
                self._grace_s,
            )
        await self._on_change(serving)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
