"""A handle on one job: its status, waiting for its end, its result and log, cancelling it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc

from scheduler_client.errors import (
    BerthRpcError,
    DeadlineExceededError,
    WaitTimeoutError,
)
from scheduler_client.job_info import CancelOutcome, JobInfo
from scheduler_client.result_download import ResultLinkRefused, download_gzip

if TYPE_CHECKING:
    from scheduler_client.client import Client

log = logging.getLogger(__name__)

# A watch stream is reopened at least this often, so a silently dead
# connection cannot hold a waiter forever.
WATCH_STREAM_MAX_S = 300.0
POLL_INITIAL_S = 0.5
POLL_MAX_S = 5.0
POLL_GROWTH = 1.5

# Codes after which the stream is given up for polling; UNIMPLEMENTED for good.
_STREAM_BROKEN = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN}
)

OnUpdate = Callable[[JobInfo], None]


class Job:
    def __init__(self, client: Client, job_id: str, *, idempotency_key: str | None = None) -> None:
        self._client = client
        self.id = job_id
        self.idempotency_key = idempotency_key

    def __repr__(self) -> str:
        return f"Job({self.id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def status(self) -> JobInfo:
        return self._client.job_status(self.id)

    def cancel(self) -> CancelOutcome:
        """Cancel: a queued job ends CANCELLED at once, a running one when its agent stops."""
        return self._client.cancel_job(self.id)

    def hold(self) -> JobInfo:
        """Keep a queued or waiting job off every agent until `release` (it leaves the line)."""
        return self._client.hold_job(self.id)

    def release(self) -> JobInfo:
        """Queue a held job again, its queue age starting now; a job whose dependencies
        have not ended yet goes back to WAITING instead."""
        return self._client.release_job(self.id)

    def result(self) -> bytes:
        """The result bytes of a COMPLETED job (FailedPreconditionError otherwise)."""
        return self._download("result", lambda: self._client.result_link(self.id).url)

    def log(self) -> bytes:
        """What the job's program printed (its agent keeps the tail), once the job has ended.

        FailedPreconditionError before the job has ended (wait() first) and
        for a job whose agent uploaded no log.
        """
        return self._download("log", lambda: self._client.log_url(self.id))

    def _download(self, what: str, fresh_url: Callable[[], str]) -> bytes:
        """Fetch through a presigned link; a refused link (expired) is asked for once more."""
        for attempt in range(2):
            url = fresh_url()
            try:
                return download_gzip(
                    url,
                    timeout_s=self._client.call_timeout_s,
                    retry=self._client.retry,
                    what=what,
                )
            except ResultLinkRefused:
                if attempt:
                    raise
                log.info("%s link for job %s was refused; asking for a fresh one", what, self.id)
        raise AssertionError("unreachable")

    def wait(self, timeout: float | None = None, on_update: OnUpdate | None = None) -> JobInfo:
        """Block until the job is terminal and return its final state.

        Follows the WatchJob stream; if the stream is not offered or breaks
        (a scheduler restart, a proxy without streaming), polls the status
        with a growing interval and tries the stream again. `on_update` sees
        each state that differs from the previous one. Raises
        WaitTimeoutError after `timeout` seconds; the job is left alone.
        """
        waiter = _Waiter(self, timeout, on_update)
        return waiter.run()


def _shown(info: JobInfo) -> tuple[object, ...]:
    """What a watcher notices: a change in any of these is an update."""
    return (info.status, info.queue_position, info.cancel_requested, info.detail)


class _Waiter:
    def __init__(self, job: Job, timeout: float | None, on_update: OnUpdate | None) -> None:
        self.job = job
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.on_update = on_update
        self.last: JobInfo | None = None
        self.watch_supported = True
        self.poll_interval = POLL_INITIAL_S

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def seen(self, info: JobInfo) -> None:
        last = self.last
        self.last = info
        if self.on_update is not None and (last is None or _shown(last) != _shown(info)):
            self.on_update(info)

    def timed_out(self) -> WaitTimeoutError:
        status = self.last.status.value if self.last else "unknown"
        return WaitTimeoutError(self.job.id, self.timeout or 0.0, status)

    def run(self) -> JobInfo:
        while True:
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                raise self.timed_out()
            if self.watch_supported:
                final = self.follow_stream(remaining)
                if final is not None:
                    return final
            final = self.poll_once()
            if final is not None:
                return final

    def follow_stream(self, remaining: float | None) -> JobInfo | None:
        """The terminal state, or None when the stream ended, broke or hit its deadline."""
        stream_s = WATCH_STREAM_MAX_S if remaining is None else min(remaining, WATCH_STREAM_MAX_S)
        try:
            for info in self.job._client.watch_job(self.job.id, stream_s):
                self.seen(info)
                if info.status.terminal:
                    return info
        except DeadlineExceededError:
            return self._after_stream_deadline()
        except BerthRpcError as error:
            if error.code == grpc.StatusCode.UNIMPLEMENTED:
                log.info("the scheduler offers no WatchJob; polling job %s", self.job.id)
                self.watch_supported = False
                return None
            if error.code not in _STREAM_BROKEN:
                raise
            log.info("watch stream for job %s broke (%s); polling", self.job.id, error.code.name)
        return None

    def _after_stream_deadline(self) -> JobInfo | None:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise self.timed_out()
        return None

    def poll_once(self) -> JobInfo | None:
        """One status read (retried on UNAVAILABLE by the client), then a pause if not done."""
        info = self.job.status()
        self.seen(info)
        if info.status.terminal:
            return info
        pause = self.poll_interval
        remaining = self.remaining()
        if remaining is not None:
            if remaining <= 0:
                raise self.timed_out()
            pause = min(pause, remaining)
        time.sleep(pause)
        self.poll_interval = min(self.poll_interval * POLL_GROWTH, POLL_MAX_S)
        return None
