"""The agent's token: a file holding the token, or the dev-tokens JSON of `scheduler --dev`.

The file is read again when it changes, so rotating a token is writing the file;
no restart is needed. The token itself never reaches a log line: `token_id`
(a short hash) is what logs show.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROLE = "executor"


class TokenFileError(Exception):
    """The file is missing, unreadable, empty, or has no executor entry."""


def parse_token(text: str, source: str) -> str:
    text = text.strip()
    if text.startswith("{"):
        try:
            tokens = json.loads(text)
        except json.JSONDecodeError:
            raise TokenFileError(
                f"token file {source} looks like JSON but does not parse"
            ) from None
        token = tokens.get(ROLE) if isinstance(tokens, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise TokenFileError(f"token file {source} has no {ROLE!r} entry")
        return token.strip()
    if not text:
        raise TokenFileError(f"token file {source} is empty")
    return text


def token_id(token: str) -> str:
    """Safe to log: identifies a token without revealing it."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


class TokenFile:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: tuple[float, int] | None = None
        self._token = ""
        self.token()  # fail at start, not at the first call

    def token(self) -> str:
        """The current token; re-read only when the file's mtime or size changed."""
        try:
            stat = self._path.stat()
            stamp = (stat.st_mtime, stat.st_size)
            if stamp != self._stamp:
                self._token = parse_token(self._path.read_text(encoding="utf-8"), str(self._path))
                self._stamp = stamp
        except OSError as error:
            if not self._token:
                raise TokenFileError(
                    f"cannot read token file {self._path}: {error.strerror}"
                ) from None
        except TokenFileError:
            if not self._token:
                raise
            # Keep the last good token while the file is half-written by a rotation.
        return self._token
