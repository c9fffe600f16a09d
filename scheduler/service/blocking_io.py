"""Runs blocking storage calls in a bounded thread pool, off the event loop.

Thousands of agents may sit in a long-poll on one event loop; a single
blocking boto3 call on it would stall them all. Each port gets its own pool
(SCHEDULER_*_MAX_WORKERS) so a flood of submissions cannot starve agents.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class BlockingIo:
    def __init__(self, max_workers: int, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        # In the caller's context, so a log line from the worker carries the RPC's request id.
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
