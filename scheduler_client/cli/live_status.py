"""Progress while waiting: one redrawn line on a terminal, a plain line per change otherwise.

On a terminal the elapsed time should tick even when the status does not
change, so a small thread redraws the line every second with the latest state.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TextIO

from scheduler_client.cli.formatting import progress_line
from scheduler_client.job_info import JobInfo

REDRAW_INTERVAL_S = 1.0
_CLEAR_LINE = "\r\x1b[2K"


class Progress:
    """Context manager; `update` is the `on_update` callback of `Job.wait`."""

    def __init__(self, stream: TextIO, *, live: bool | None = None) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self._latest: JobInfo | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.live:
            self._thread = threading.Thread(target=self._redraw_loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def update(self, info: JobInfo) -> None:
        with self._lock:
            self._latest = info
        if self.live:
            self._draw()
        else:
            print(progress_line(info), file=self.stream, flush=True)

    def _draw(self) -> None:
        with self._lock:
            if self._latest is None:
                return
            self.stream.write(_CLEAR_LINE + progress_line(self._latest))
            self.stream.flush()

    def _redraw_loop(self) -> None:
        while not self._stop.wait(REDRAW_INTERVAL_S):
            self._draw()
