"""Development tokens in a `{role: token}` file that agents and the client CLI read.

The compose init service writes the file to a shared volume and may run again
(every `docker compose up`). A token in the file is kept while the token table
still knows it with the same role; one it does not know (the in-memory
emulator restarted empty, or someone deleted the token) is replaced. So a
rerun against a persistent store changes nothing, and the file never holds
tokens the token database has forgotten. Agents re-read the file when it
changes, so a replaced executor token needs no agent restart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from berth_common.errors import NotFound
from scheduler.domain.jobs import Role
from token_database.registry import TokenRegistry


def read_tokens_file(path: Path) -> dict[str, str]:
    """The file's {role: token} entries; empty when it is missing or not such a file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict):
        return {}
    return {str(k): v for k, v in document.items() if isinstance(v, str) and v}


def _still_valid(registry: TokenRegistry, token: str | None, role: str) -> bool:
    if token is None:
        return False
    try:
        return registry.verify(token).role == role
    except NotFound:
        return False


def ensure_dev_tokens(
    registry: TokenRegistry, path: Path, roles: Iterable[Role] = tuple(Role)
) -> list[str]:
    """Make `path` hold a live token per role; returns the roles that got a new token."""
    tokens = read_tokens_file(path)
    issued: list[str] = []
    for role in roles:
        if _still_valid(registry, tokens.get(role.value), role.value):
            continue
        tokens[role.value], _ = registry.create_token(f"dev-{role.value}", role.value)
        issued.append(role.value)
    if issued or not path.exists():
        write_tokens_file(path, tokens)
    return issued


def write_tokens_file(path: Path, tokens: dict[str, str]) -> None:
    """{role: token}, readable by the owner only: these are credentials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(tokens, handle, indent=2)
        handle.write("\n")
