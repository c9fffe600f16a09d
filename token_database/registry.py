"""The token rules, free of gRPC and AWS: who may hold which role, for how long.

Unknown and expired tokens are indistinguishable to callers on purpose: both
are "unknown or expired", so probing cannot tell a revoked token from a typo.
Expired records are kept so an admin can renew them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from berth_common.errors import BerthError, InvalidArgument, NotFound
from token_database.token_info import (
    MAX_TOKEN_LENGTH,
    ROLES,
    TOKEN_ID_LENGTH,
    TOKEN_PREFIX,
    TokenInfo,
    generate_token,
    hash_token,
)
from token_database.token_store import TokenStore

log = logging.getLogger(__name__)

UNKNOWN_TOKEN_MESSAGE = "token is unknown or expired"
MAX_NAME_LENGTH = 200
_TOKEN_ID = re.compile(rf"[0-9a-f]{{{TOKEN_ID_LENGTH}}}")
_CREATE_ATTEMPTS = 3  # a hash collision on 256 random bits will not happen; be safe anyway


class TokenRegistry:
    def __init__(self, store: TokenStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def create_token(
        self, name: str, role: str, expires_at: float | None = None
    ) -> tuple[str, TokenInfo]:
        """A new token and its record. The returned token is the only copy there will be."""
        name = validate_name(name)
        role = validate_role(role)
        now = self._clock()
        expiry = self._future_expiry(expires_at, now)
        for _ in range(_CREATE_ATTEMPTS):
            token = generate_token()
            info = TokenInfo(
                owner_hash=hash_token(token),
                name=name,
                role=role,
                created_at=int(now),
                expires_at=expiry,
            )
            if self._store.put_new(info):
                log.info("created token %s for %r (role %s)", info.token_id, name, role)
                return token, info
        raise BerthError("could not store a new token; try again")

    def verify(self, token: str) -> TokenInfo:
        """The live record for `token`; NotFound when unknown or expired."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise NotFound(UNKNOWN_TOKEN_MESSAGE)
        info = self._store.get(hash_token(token))
        if info is None or info.expired(self._clock()):
            raise NotFound(UNKNOWN_TOKEN_MESSAGE)
        return info

    def list_tokens(self) -> list[TokenInfo]:
        """Every record, expired ones included, oldest first."""
        return sorted(self._store.list_all(), key=lambda i: (i.created_at, i.name, i.token_id))

    def find(self, token_id: str) -> TokenInfo:
        token_id = validate_token_id(token_id)
        matches = self._store.find_by_token_id(token_id)
        if not matches:
            raise NotFound(f"no token has token_id {token_id}; `list` shows the token_ids")
        if len(matches) > 1:
            raise InvalidArgument(
                f"token_id {token_id} matches {len(matches)} tokens; delete and re-create them"
            )
        return matches[0]

    def renew(self, token_id: str, expires_at: float | None) -> TokenInfo:
        """Set a new expiry (None = never); works on expired tokens too."""
        info = self.find(token_id)
        expiry = self._future_expiry(expires_at, self._clock())
        renewed = self._store.set_expiry(info.owner_hash, expiry)
        if renewed is None:
            raise NotFound(f"token {info.token_id} was deleted meanwhile")
        log.info("renewed token %s (%r) until %s", info.token_id, info.name, expiry or "never")
        return renewed

    def delete(self, token_id: str) -> TokenInfo:
        info = self.find(token_id)
        if not self._store.delete(info.owner_hash):
            raise NotFound(f"token {info.token_id} was deleted meanwhile")
        log.info("deleted token %s (%r)", info.token_id, info.name)
        return info

    @staticmethod
    def _future_expiry(expires_at: float | None, now: float) -> int | None:
        if expires_at is None:
            return None
        if expires_at <= now:
            raise InvalidArgument("expires_at is in the past; give a future time or none (never)")
        return int(expires_at)


def validate_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidArgument("name must not be empty; give the person or agent the token is for")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"name is longer than {MAX_NAME_LENGTH} characters")
    if not name.isprintable():
        raise InvalidArgument("name must not contain control characters")
    return name


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgument(f"role {role[:40]!r} is not one of {', '.join(ROLES)}")
    return ROLES[ROLES.index(role)]  # the plain str, whatever str subclass came in


def validate_token_id(token_id: str) -> str:
    token_id = token_id.strip().lower()
    if token_id.startswith(TOKEN_PREFIX.lower()):
        # Never echo it: this is very likely a secret pasted into the wrong place.
        raise InvalidArgument(
            "that is a token, not a token_id; give the 12-character token_id that `list` shows"
        )
    if not _TOKEN_ID.fullmatch(token_id):
        raise InvalidArgument(
            f"token_id must be {TOKEN_ID_LENGTH} hex characters, as shown by `list`"
        )
    return token_id
