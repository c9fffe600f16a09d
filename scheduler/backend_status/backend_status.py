"""Backend availability: the parsed form of the status TOML and its source.

The document is operator-edited:

    [backends.qpu.developer]
    status = "maintenance"
    description = "Recalibration until 14:00 UTC"

A backend absent from the document is unknown (INVALID_ARGUMENT on submit);
a role absent under a known backend is treated as unavailable for that role.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from scheduler.domain.jobs import Role


class Availability(StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class BackendAvailability:
    availability: Availability
    description: str


# backend -> role -> availability
BackendStatusTable = dict[str, dict[Role, BackendAvailability]]


class BackendStatusFormatError(ValueError):
    """The document is not valid TOML of the expected shape."""


def parse_backend_status(text: str) -> BackendStatusTable:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BackendStatusFormatError(f"not valid TOML: {error}") from error
    backends = document.get("backends", {})
    if not isinstance(backends, dict):
        raise BackendStatusFormatError("[backends] must be a table")
    table: BackendStatusTable = {}
    for backend, roles in backends.items():
        if not isinstance(roles, dict):
            raise BackendStatusFormatError(f"[backends.{backend}] must be a table of roles")
        per_role: dict[Role, BackendAvailability] = {}
        for role_name, entry in roles.items():
            try:
                role = Role(role_name)
            except ValueError as error:
                raise BackendStatusFormatError(
                    f"[backends.{backend}.{role_name}]: unknown role; use one of "
                    + ", ".join(r.value for r in Role)
                ) from error
            if not isinstance(entry, dict):
                raise BackendStatusFormatError(f"[backends.{backend}.{role_name}] must be a table")
            try:
                availability = Availability(str(entry.get("status", "")))
            except ValueError as error:
                raise BackendStatusFormatError(
                    f"[backends.{backend}.{role_name}].status must be one of "
                    + ", ".join(a.value for a in Availability)
                ) from error
            per_role[role] = BackendAvailability(availability, str(entry.get("description", "")))
        table[backend] = per_role
    return table


def render_backend_status(table: BackendStatusTable) -> str:
    """The inverse of parse_backend_status (for --dev provisioning and admin tools)."""
    lines: list[str] = []
    for backend in sorted(table):
        for role in sorted(table[backend]):
            entry = table[backend][role]
            lines.append(f'[backends."{backend}".{role.value}]')
            lines.append(f'status = "{entry.availability.value}"')
            description = entry.description.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'description = "{description}"')
            lines.append("")
    return "\n".join(lines)


class BackendStatusSource(Protocol):
    def fetch(self) -> BackendStatusTable:
        """Read the current document.

        Blocking. MUST raise `Unavailable` when the source cannot be reached
        and BackendStatusFormatError when the document is malformed.
        """


class BackendStatusEditor(Protocol):
    def edit(self, change: Callable[[str], str | None]) -> str:
        """Read-modify-write of the document; returns the document as it stands after.

        Blocking. `change` gets the current text and returns the new text, or
        None to leave it unchanged; an exception from it aborts the edit with
        nothing written. MUST apply `change` to the latest document and MUST
        NOT lose a change another editor wrote meanwhile (so `change` may run
        more than once). MUST raise `Unavailable` when the source cannot be
        reached or keeps changing under the edit.
        """
