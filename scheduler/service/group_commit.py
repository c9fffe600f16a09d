"""Group commit: calls that arrive while one batch is out go out together as the next.

No timer: a lone call goes out at once, and under load a batch holds what
arrived during the previous round trip, so the number of storage requests
follows the round-trip time, not the call rate. A call joins only a batch
that has not been sent yet: its request leaves after the call was made, so a
read sees every write completed before it, and a write is acknowledged only
by the response to the request that carried it.

One batch at a time, not a few: overlapping them made batches smaller and
cost more CPU per call than the overlap saved (measured on status reads).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# The answers of one batch by key: a result, or the exception for that key alone.
Send = Callable[[dict[str, T]], Awaitable[Mapping[str, R | Exception]]]


class GroupCommit(Generic[T, R]):
    def __init__(self, send: Send[T, R], max_batch: int) -> None:
        """`send(items by key)` answers every key it was given, or raises for all."""
        self._send = send
        self._max_batch = max_batch
        # key -> (item, the callers waiting for it); one key may be asked for twice.
        self._waiting: dict[str, tuple[T, list[asyncio.Future[R]]]] = {}
        self._sender: asyncio.Task[None] | None = None  # held: the loop keeps weak references

    async def submit(self, key: str, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.setdefault(key, (item, []))
        waiting[1].append(future)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_batches())
        try:
            return await future
        except asyncio.CancelledError:
            # A caller that gave up before its batch left takes its item back: a write
            # nobody will acknowledge is not sent.
            if self._waiting.get(key) is waiting:
                waiting[1].remove(future)
                if not waiting[1]:
                    del self._waiting[key]
            raise

    async def _send_batches(self) -> None:
        try:
            while self._waiting:
                keys = list(self._waiting)[: self._max_batch]
                batch = {key: self._waiting.pop(key) for key in keys}
                try:
                    answers = await self._send({key: item for key, (item, _) in batch.items()})
                except BaseException as error:  # every caller of the batch hears it
                    for _, futures in batch.values():
                        for future in futures:
                            _fail(future, error)
                    if not isinstance(error, Exception):
                        raise
                    continue
                for key, (_, futures) in batch.items():
                    answer: R | Exception = (
                        answers[key]
                        if key in answers
                        else RuntimeError(f"the batch sent had no answer for {key!r}")
                    )
                    for future in futures:
                        if future.done():
                            continue
                        if isinstance(answer, Exception):
                            future.set_exception(answer)
                        else:
                            future.set_result(answer)
        finally:
            # In the same step as the loop's last check: no call can arrive in between
            # and find a sender that will never send it.
            self._sender = None
            for _, futures in self._waiting.values():  # only when cancelled (shutdown)
                for future in futures:
                    future.cancel()
            self._waiting.clear()


def _fail(future: asyncio.Future[R], error: BaseException) -> None:
    if future.done():
        return
    if isinstance(error, Exception):
        future.set_exception(error)
    else:
        future.cancel()
