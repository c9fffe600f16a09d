"""Putting gzip bytes to a presigned URL, with exactly the headers it was signed with.

The URL is signed over its headers (Content-Type), so adding, dropping or
changing one gets HTTP 403 from S3; requests adds only transport headers
(Host, Content-Length, ...), which SigV4 presigning does not cover. An expired
URL, or a 403, is answered by asking the scheduler for fresh URLs
(RefreshUploadUrl) and trying again; other failures are retried a few times
with backoff and then reported with their reason.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

import requests
from berth.scheduler.v1 import job_pb2

from berth_common.backoff import Backoff
from berth_common.times import epoch_of
from executor_agent.backoff import describe
from executor_agent.logging_setup import job_event

log = logging.getLogger("executor_agent.upload")

Kind = Literal["result", "log"]
Targets = tuple[job_pb2.UploadTarget, job_pb2.UploadTarget]  # (result, log)
EXPIRY_MARGIN_S = 2.0
MAX_REFRESHES = 2
PUT_TIMEOUT_S = 120.0


class UploadError(Exception):
    """The upload failed for good; the message says why (HTTP status, connection error)."""


def encode(raw: bytes) -> bytes:
    """gzip with a fixed mtime: the same result gives the same bytes."""
    return gzip.compress(raw, mtime=0)


def _put(target: job_pb2.UploadTarget, data: bytes) -> requests.Response:
    return requests.put(target.url, data=data, headers=dict(target.headers), timeout=PUT_TIMEOUT_S)


class Uploader:
    def __init__(
        self,
        job_id: str,
        targets: Targets,
        refresh: Callable[[], Awaitable[Targets]],
        attempts: int = 4,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._job_id = job_id
        self._targets = {"result": targets[0], "log": targets[1]}
        self._refresh_targets = refresh
        self._attempts = attempts
        self._backoff = backoff or Backoff(initial_s=0.5, maximum_s=5.0)
        self._clock = clock

    def _expired(self, target: job_pb2.UploadTarget) -> bool:
        if not target.HasField("expires_at"):
            return False
        return epoch_of(target.expires_at) <= self._clock() + EXPIRY_MARGIN_S

    async def put(self, kind: Kind, raw: bytes) -> int:
        """Upload gzip(raw) as `kind`; returns the bytes stored. Raises UploadError."""
        encoded = encode(raw)
        failures = 0
        refreshes = 0
        refreshed_for_expiry = False
        self._backoff.reset()
        while True:
            target = self._targets[kind]
            problem, refresh_reason = "", ""
            if not target.url:
                problem = refresh_reason = "no upload URL"
            elif self._expired(target) and not refreshed_for_expiry:
                problem = refresh_reason = "upload URL expired"
                refreshed_for_expiry = True
            else:
                try:
                    response = await asyncio.to_thread(_put, target, encoded)
                except requests.RequestException as error:
                    problem = f"{type(error).__name__}: {error}"
                else:
                    if 200 <= response.status_code < 300:
                        return len(encoded)
                    problem = (
                        f"HTTP {response.status_code} {response.reason}: {_short(response.text)}"
                    )
                    if response.status_code == 403:
                        refresh_reason = f"HTTP 403 from storage: {_short(response.text, 120)}"
            if refresh_reason and refreshes < MAX_REFRESHES:
                refreshes += 1
                try:
                    await self._refresh(refresh_reason)
                    continue
                except Exception as error:  # counts as a failed attempt
                    problem = f"RefreshUploadUrl failed: {describe(error)}"
            failures += 1
            if failures >= self._attempts:
                raise UploadError(f"{kind} upload failed after {failures} attempts: {problem}")
            await asyncio.sleep(self._backoff.next_delay())

    async def _refresh(self, reason: str) -> None:
        result_target, log_target = await self._refresh_targets()
        self._targets = {"result": result_target, "log": log_target}
        job_event(log, "upload_url_refreshed", self._job_id, reason=reason)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
