"""What the scheduler needs from a token source, independent of how it is reached.

Everything here works with the token's SHA-256, never keeps the token: the
hash is the job owner key, its first 12 hex characters (the token database's
token_id) are what logs show.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from scheduler.domain.jobs import Principal

UNKNOWN_TOKEN_MESSAGE = "missing, unknown or expired token"
TOKEN_DATABASE_DOWN_MESSAGE = "token database unreachable; retry"
# Berth tokens are ~49 characters; anything near this is garbage, refused before any lookup.
MAX_TOKEN_LENGTH = 4096
SHORT_HASH_LENGTH = 12


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def short_hash(token: str) -> str:
    """Safe to log: equals the token database's token_id for the same token."""
    return token_hash(token)[:SHORT_HASH_LENGTH]


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal:
        """Who holds `token`.

        Raises scheduler.domain.errors.Unauthenticated when the token is missing,
        unknown or expired, and Unavailable when the answer cannot be had now.
        """
        ...


@dataclass(frozen=True)
class VerifiedToken:
    principal: Principal
    expires_at: float | None  # epoch seconds; None = never. Caches must not outlive it.


class TokenLookup(Protocol):
    """A verifier that also says how long its answer holds (what a cache needs)."""

    async def lookup(self, token: str) -> VerifiedToken:
        """As TokenVerifier.verify, with the token's expiry."""
        ...

    async def close(self) -> None: ...
