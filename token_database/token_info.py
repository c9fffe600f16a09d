"""What a token is: its secret form, its stored hash, its short id and its record.

Only `hash_token(token)` ever reaches storage; `token_id` (a prefix of the
hash) is what logs, listings and admin commands use, so the secret itself is
seen exactly once, when it is created.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "berth_"
TOKEN_ID_LENGTH = 12
# Far above any token we issue (~49 chars); lets callers refuse huge inputs before hashing.
MAX_TOKEN_LENGTH = 4096

ADMIN_ROLE = "admin"
ROLES = ("admin", "developer", "guest", "executor")


def generate_token() -> str:
    """256 bits from the OS CSPRNG; the prefix makes leaked tokens easy to grep for."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id_of(token_hash: str) -> str:
    return token_hash[:TOKEN_ID_LENGTH]


@dataclass(frozen=True)
class TokenInfo:
    """One token's record. Times are epoch seconds; `expires_at` None means never."""

    owner_hash: str  # full SHA-256 hex of the token: the DynamoDB key and the job owner
    name: str
    role: str
    created_at: int
    expires_at: int | None = None

    @property
    def token_id(self) -> str:
        return token_id_of(self.owner_hash)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at
