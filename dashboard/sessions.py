"""Server-side sessions: the browser holds a random id, the token stays here.

A session ends at sign-out, after `idle_s` without a request, or `max_age_s`
after sign-in, whichever comes first. Each carries its own CSRF token, which
every form posts back. Memory only: a restarted dashboard signs everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SESSION_COOKIE = "berth_session"
SIGNIN_COOKIE = "berth_signin"  # pairs the sign-in form with its browser (login CSRF)


@dataclass
class Session:
    session_id: str
    token: str = field(repr=False)
    is_admin: bool
    created_at: float
    last_used: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    notices: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # notices saying an action was refused

    @property
    def token_hash(self) -> str:
        """What logs may show of the token."""
        return hashlib.sha256(self.token.encode()).hexdigest()[:12]

    def csrf_ok(self, posted: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), posted.encode())


class SessionStore:
    def __init__(
        self,
        idle_s: float = 3600.0,
        max_age_s: float = 12 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def create(self, token: str, *, is_admin: bool) -> Session:
        self._prune()
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), token, is_admin, now, now)
        self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value, its idle timer restarted; None if ended."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_used > self.idle_s or now - session.created_at > self.max_age_s:
            del self._sessions[session_id]
            return None
        session.last_used = now
        return session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self) -> None:
        now = self._clock()
        self._sessions = {
            key: s
            for key, s in self._sessions.items()
            if now - s.last_used <= self.idle_s and now - s.created_at <= self.max_age_s
        }
