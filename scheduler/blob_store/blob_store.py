"""The blob store contract.

Inputs are written by the scheduler before a job is acknowledged. Results and
logs never pass through the scheduler: agents upload them to presigned
targets and owners download them from presigned links, so a large result
costs the scheduler nothing.

Each attempt (n >= 1) has its own result and log objects, so an agent that
lost its lease can upload only to its own attempt's, never to those the job
serves (see JobRecord.result_attempt). Attempt 0 names the job-level objects
of jobs run before attempts had their own; they are still read.

Every method is blocking and raises `scheduler.domain.errors.Unavailable`
when the backing service cannot be reached or throttles.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from scheduler.domain.jobs import DownloadLink, Role, UploadTarget


def lifecycle_tags(role: Role, save_job: bool) -> dict[str, str]:
    """The tags every object of a job carries, so bucket lifecycle rules can expire
    a role's unsaved inputs, results and logs alike (see README, S3 lifecycle)."""
    return {"role": role.value, "save_job": "true" if save_job else "false"}


@dataclass(frozen=True)
class StoredInput:
    job_id: str
    written_at: float  # epoch seconds of the last write, at the store's granularity


@dataclass(frozen=True)
class StoredAttempt:
    """A result or log object of one attempt (n >= 1) of a job."""

    job_id: str
    attempt: int
    written_at: float  # as for StoredInput


class BlobStore(Protocol):
    def put_input(self, job_id: str, payload: bytes, tags: dict[str, str]) -> None:
        """MUST be durable when it returns (the job is acknowledged after it)."""

    def get_input(self, job_id: str) -> bytes:
        """MUST raise NotFound when there is no input for job_id."""

    def delete_input(self, job_id: str) -> None:
        """Idempotent: deleting a missing input is not an error."""

    def list_inputs(self, written_before: float) -> Iterator[StoredInput]:
        """Every stored input last written before `written_before` (epoch seconds).

        For the orphan sweep: an input whose job record was never written is
        found here. MUST yield each such input exactly once, however many
        there are (all pages), and MUST NOT yield inputs written later than
        `written_before` plus the store's timestamp granularity (S3: 1 s),
        nor results or logs. The order is unspecified.
        """

    def list_attempts(self, written_before: float) -> Iterator[StoredAttempt]:
        """Every result and log object of an attempt (n >= 1) last written before
        `written_before`, as `list_inputs` lists inputs (all pages, the same bound)."""

    def result_upload_target(
        self, job_id: str, attempt: int, expires_in_s: int, tags: dict[str, str]
    ) -> UploadTarget:
        """A presigned PUT to `attempt`'s result, and only to it; the upload MUST carry
        exactly `headers`, which carry `tags`."""

    def log_upload_target(
        self, job_id: str, attempt: int, expires_in_s: int, tags: dict[str, str]
    ) -> UploadTarget:
        """Like result_upload_target, for the attempt's captured stdout/stderr."""

    def result_exists(self, job_id: str, attempt: int) -> bool: ...

    def log_exists(self, job_id: str, attempt: int) -> bool: ...

    def result_download_link(self, job_id: str, attempt: int, expires_in_s: int) -> DownloadLink:
        """A presigned GET of `attempt`'s result (0: the job-level object)."""

    def log_download_link(self, job_id: str, attempt: int, expires_in_s: int) -> DownloadLink: ...

    def delete_attempt(self, job_id: str, attempt: int) -> None:
        """Delete the attempt's result and log (n >= 1). Idempotent."""
