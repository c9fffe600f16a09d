"""A TTL cache in front of the token database.

Every RPC on both scheduler ports is authenticated, so without a cache the
token database would see the scheduler's whole request rate. Design points:

- Keyed by the token's SHA-256: a memory dump of the cache holds no token.
- An entry lives min(ttl, time left until the token expires): a cached
  answer never outlives the token. A deleted token is honoured for at most
  `ttl_s` more seconds; that is the price of the cache.
- Unknown tokens are remembered briefly (`negative_ttl_s`), so a client
  retrying a bad token in a loop costs one lookup per few seconds.
- Unavailable is never cached: the next call asks again.
- Concurrent lookups of one token share one request (single flight), so a
  burst of calls from a new client does not become a burst of lookups.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.auth.token_verifier import (
    MAX_TOKEN_LENGTH,
    UNKNOWN_TOKEN_MESSAGE,
    TokenLookup,
    VerifiedToken,
    token_hash,
)
from scheduler.domain.errors import Unauthenticated
from scheduler.domain.jobs import Principal


@dataclass(frozen=True)
class _Entry:
    verified: VerifiedToken | None  # None: the token is unknown (a negative entry)
    deadline: float  # on the monotonic clock


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    coalesced: int  # lookups that joined one already in flight
    size: int


class CachingTokenVerifier:
    def __init__(
        self,
        inner: TokenLookup,
        ttl_s: float = 30.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        *,
        negative_ttl_s: float = 2.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._inner = inner
        self._ttl_s = ttl_s
        self._negative_ttl_s = negative_ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._wall_clock = wall_clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # least recently used first
        self._inflight: dict[str, asyncio.Task[VerifiedToken]] = {}
        self.hits = 0
        self.misses = 0
        self.coalesced = 0

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self.hits, self.misses, self.coalesced, len(self._entries))

    async def verify(self, token: str) -> Principal:
        return (await self.lookup(token)).principal

    async def lookup(self, token: str) -> VerifiedToken:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated(UNKNOWN_TOKEN_MESSAGE)  # not worth hashing, let alone asking
        key = token_hash(token)
        entry = self._entries.get(key)
        if entry is not None:
            if self._live(entry):
                self._entries.move_to_end(key)
                self.hits += 1
                if entry.verified is None:
                    raise Unauthenticated(UNKNOWN_TOKEN_MESSAGE)
                return entry.verified
            del self._entries[key]
        task = self._inflight.get(key)
        if task is None:
            self.misses += 1
            task = asyncio.ensure_future(self._fetch(key, token))
            self._inflight[key] = task
            task.add_done_callback(functools.partial(self._fetched, key))
        else:
            self.coalesced += 1
        # Shielded: a caller that gives up must not cancel the lookup others wait for.
        return await asyncio.shield(task)

    async def close(self) -> None:
        await self._inner.close()

    def _live(self, entry: _Entry) -> bool:
        if entry.deadline <= self._clock():
            return False
        expires_at = entry.verified.expires_at if entry.verified else None
        return expires_at is None or expires_at > self._wall_clock()

    async def _fetch(self, key: str, token: str) -> VerifiedToken:
        try:
            verified = await self._inner.lookup(token)
        except Unauthenticated:
            if self._negative_ttl_s > 0:
                self._store(key, _Entry(None, self._clock() + self._negative_ttl_s))
            raise
        lifetime = self._ttl_s
        if verified.expires_at is not None:
            lifetime = min(lifetime, verified.expires_at - self._wall_clock())
            if lifetime <= 0:
                raise Unauthenticated(UNKNOWN_TOKEN_MESSAGE)
        self._store(key, _Entry(verified, self._clock() + lifetime))
        return verified

    def _store(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _fetched(self, key: str, task: asyncio.Task[VerifiedToken]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not reported as lost
