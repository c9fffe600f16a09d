"""Where the token comes from: the argument, then BERTH_TOKEN, then ~/.config/berth/token.

A token file holds either the token itself or the `{role: token}` JSON that
`python -m scheduler --dev` writes, so the dev file works directly; `role`
picks the entry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from scheduler_client.errors import NoTokenError

TOKEN_ENV = "BERTH_TOKEN"
DEFAULT_ROLE = "developer"


def default_token_file() -> Path:
    return Path.home() / ".config" / "berth" / "token"


def read_token_file(path: Path, role: str = DEFAULT_ROLE) -> str:
    """The token in `path`: its stripped text, or the `role` entry of a dev-tokens JSON."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise NoTokenError(f"cannot read token file {path}: {error.strerror}") from None
    if text.startswith("{"):
        try:
            tokens = json.loads(text)
        except json.JSONDecodeError:
            raise NoTokenError(f"token file {path} looks like JSON but does not parse") from None
        if not isinstance(tokens, dict):
            raise NoTokenError(f"token file {path} must hold a token or a {{role: token}} object")
        token = tokens.get(role)
        if not isinstance(token, str) or not token:
            roles = ", ".join(sorted(str(key) for key in tokens)) or "none"
            raise NoTokenError(f"token file {path} has no entry for role {role!r} (has: {roles})")
        return token.strip()
    if not text:
        raise NoTokenError(f"token file {path} is empty")
    return text


def resolve_token(token: str | None = None, *, role: str = DEFAULT_ROLE) -> str:
    """The first of: `token`, $BERTH_TOKEN, ~/.config/berth/token."""
    if token:
        return token
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env
    path = default_token_file()
    if path.exists():
        return read_token_file(path, role)
    raise NoTokenError(
        f"no token: pass one, set {TOKEN_ENV}, or write it to {path} "
        "(for `python -m scheduler --dev`, use .berth/dev-tokens.json)"
    )
