"""The backend-status document in memory: a settable text, read and edited as SSM's is.

For tests of the service layer without SSM: `set` is an operator's hand edit,
`fetch` and `edit` are what the scheduler and the admin tool do. An edit
writes only on top of the version it read, else it is made again on the
newer one, so a `change` may run more than once, as the contract allows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from scheduler.backend_status.backend_status import BackendStatusTable, parse_backend_status
from scheduler.domain.errors import Unavailable

_EDIT_ATTEMPTS = 5


class MemoryBackendStatusSource:
    def __init__(self, text: str = "") -> None:
        self._text = text
        self._version = 1
        self._lock = threading.Lock()

    @property
    def version(self) -> int:
        """Moves on every write (the SSM parameter's version)."""
        with self._lock:
            return self._version

    @property
    def text(self) -> str:
        with self._lock:
            return self._text

    def set(self, text: str) -> None:
        """Replace the document, as an operator editing it by hand would."""
        with self._lock:
            self._text, self._version = text, self._version + 1

    def fetch(self) -> BackendStatusTable:
        return parse_backend_status(self.text)

    def edit(self, change: Callable[[str], str | None]) -> str:
        for _ in range(_EDIT_ATTEMPTS):
            with self._lock:
                base, version = self._text, self._version
            text = change(base)  # outside the lock: it may take time, or read this source
            if text is None:
                return base
            with self._lock:
                if self._version == version:
                    self._text, self._version = text, version + 1
                    return text
        raise Unavailable("the backend status document kept changing during the edit; retry")
