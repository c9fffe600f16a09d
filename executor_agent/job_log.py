"""A job's output, kept to its last N bytes, plus the agent's own notes about the job.

A job that prints without end must not fill the agent's memory or disk, so
only the tail is kept (the end of a log is where the error is); the upload
says how much was dropped. Agent notes (killed at the timeout, exit code, ...)
are kept apart so that trimming the output never loses them.
"""

from __future__ import annotations

import time

NOTE_PREFIX = "[berth-agent]"
MAX_ERROR_CHARS = 4000  # the scheduler keeps 4 KiB of an error; leave room for our prefix


class JobLog:
    def __init__(self, limit_bytes: int) -> None:
        self._limit = limit_bytes
        self._tail = bytearray()
        self.dropped_bytes = 0
        self._notes: list[str] = []

    def write(self, chunk: bytes) -> None:
        self._tail += chunk
        excess = len(self._tail) - self._limit
        if excess > 0:
            del self._tail[:excess]
            self.dropped_bytes += excess

    def note(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._notes.append(f"{NOTE_PREFIX} {stamp} {text}")

    @property
    def output(self) -> bytes:
        return bytes(self._tail)

    def tail_text(self, max_lines: int = 20, max_chars: int = 2000) -> str:
        """The last lines of the output, for an error message."""
        text = self._tail[-max_chars * 4 :].decode("utf-8", errors="replace")
        lines = [line.rstrip() for line in text.strip().splitlines()]
        tail = "\n".join(lines[-max_lines:])
        return tail[-max_chars:]

    def render(self) -> bytes:
        """What is uploaded: a truncation notice, the output tail, then the agent's notes."""
        parts: list[bytes] = []
        if self.dropped_bytes:
            parts.append(
                f"{NOTE_PREFIX} log truncated: the first {self.dropped_bytes} bytes were "
                f"dropped, the last {self._limit} are kept\n".encode()
            )
        parts.append(bytes(self._tail))
        if self._tail and not self._tail.endswith(b"\n"):
            parts.append(b"\n")
        parts.extend(f"{note}\n".encode() for note in self._notes)
        return b"".join(parts)


def truncate_error(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Errors are shown to users in status lines; the whole story is in the job log."""
    if len(text) <= limit:
        return text
    return text[: limit - 40] + " …(truncated; the job log has the rest)"
