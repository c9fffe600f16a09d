"""Reading `authorization: Bearer <token>` from gRPC metadata.

Every refusal says what the caller must send instead, and none repeats what
they sent: a malformed header may still hold a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scheduler.auth.token_verifier import MAX_TOKEN_LENGTH
from scheduler.domain.errors import Unauthenticated

BEARER_FORM = "authorization: Bearer <token>"
_NOT_A_TOKEN = f"that is not a Berth token (too long or contains spaces); send {BEARER_FORM}"


def bearer_token(metadata: Iterable[tuple[str, Any]] | None) -> str:
    """The token, or Unauthenticated saying what is wrong with the metadata."""
    values = [value for key, value in metadata or () if key.lower() == "authorization"]
    if not values:
        raise Unauthenticated(f"missing authorization metadata; send {BEARER_FORM}")
    if len(values) > 1:
        raise Unauthenticated(f"send one authorization metadata entry, not {len(values)}")
    value = values[0]
    if len(value) > MAX_TOKEN_LENGTH + len("Bearer ") + 16:
        # Refused before any copy is made: a flood of huge headers costs no extra memory.
        raise Unauthenticated(_NOT_A_TOKEN)
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    scheme, _, token = text.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        raise Unauthenticated(f"malformed authorization metadata; send {BEARER_FORM}")
    if not token:
        raise Unauthenticated(f"empty token in the authorization metadata; send {BEARER_FORM}")
    if len(token) > MAX_TOKEN_LENGTH or len(token.split()) > 1:  # split: whitespace, in C
        raise Unauthenticated(_NOT_A_TOKEN)
    return token
