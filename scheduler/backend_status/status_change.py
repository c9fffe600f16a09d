"""One backend's availability changed in the status document, the rest kept.

Operators edit the document by hand too, and may keep more in it than the
scheduler reads (other tables, extra keys in an entry); an edit made through
the admin tool keeps all of that. Comments and formatting are not kept: the
document is written back from its parsed form.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

import tomli_w

from scheduler.backend_status.backend_status import (
    Availability,
    parse_backend_status,
)
from scheduler.domain.errors import InvalidArgument
from scheduler.domain.jobs import CLIENT_ROLES, Role


@dataclass(frozen=True)
class StatusChange:
    backend: str
    role: Role | None  # None: every role the backend lists (every client role for a new one)
    availability: Availability
    description: str | None  # None: keep each entry's current text
    add_backend: bool = False  # without it, a backend missing from the document is refused

    def apply(self, text: str) -> str | None:
        """The document with this change made, or None when it already says so.

        Raises BackendStatusFormatError when the current document is malformed
        (it must be fixed by hand first) and InvalidArgument for an unknown
        backend without `add_backend`.
        """
        before = parse_backend_status(text)
        document: dict[str, Any] = tomllib.loads(text)
        backends = document.setdefault("backends", {})
        if self.backend not in before:
            if not self.add_backend:
                known = ", ".join(sorted(before)) or "none"
                raise InvalidArgument(
                    f"unknown backend {self.backend!r} (known: {known}); "
                    "to add a new backend, ask for it explicitly (add_backend, CLI --add)"
                )
            backends[self.backend] = {}
        entries: dict[str, Any] = backends[self.backend]
        roles = [self.role] if self.role else list(before.get(self.backend, {})) or CLIENT_ROLES
        for role in roles:
            entry = entries.setdefault(role.value, {})
            entry["status"] = self.availability.value
            if self.description is not None:
                entry["description"] = self.description
            else:
                entry.setdefault("description", "")
        after_text = tomli_w.dumps(document)
        if parse_backend_status(after_text) == before:
            return None
        return after_text
