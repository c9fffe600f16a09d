"""The connection to a scheduler's submission port, and one method per RPC.

Every unary call carries a deadline (`call_timeout_s`) and is retried on
UNAVAILABLE under `retry`; a failure surfaces as a `BerthRpcError` with the
server's code and message. The token travels as `authorization: Bearer`
metadata on each call and is never part of a message or repr.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TypeVar

import grpc
from berth.scheduler.v1 import job_pb2, submission_pb2, submission_pb2_grpc
from google.protobuf import duration_pb2

from berth_common.times import to_duration, to_timestamp
from scheduler_client.call_failures import explain, not_worth_retrying
from scheduler_client.dependencies import DependencyCondition, dependencies_pb
from scheduler_client.errors import BerthRpcError, WaitTimeoutError
from scheduler_client.job import Job
from scheduler_client.job_array import (
    ArrayCancelOutcome,
    ArrayStatus,
    ArraySubmission,
    is_array_id,
)
from scheduler_client.job_info import CancelOutcome, JobInfo, JobStatus, ResultLink
from scheduler_client.retry import RetryPolicy, call_with_retry
from scheduler_client.role_limits import RoleLimits
from scheduler_client.service_status import ServiceStatus
from scheduler_client.token_source import resolve_token
from scheduler_client.usage_report import UsageGrouping, UsageReport

# What a job may be said to depend on: job ids, array ids (each of its jobs), handles.
Dependency = str | Job | ArraySubmission

Req = TypeVar("Req")
Resp = TypeVar("Resp")

DEFAULT_CALL_TIMEOUT_S = 30.0
DEFAULT_LIST_PAGE_SIZE = 100

# A restarted scheduler should be reachable again within a second, not after
# gRPC's default reconnect backoff (up to two minutes). Not
# `grpc.min_reconnect_backoff_ms`: gRPC also uses it as the minimum time a
# connection attempt may take (default 20 s), so a small value makes every
# handshake slower than that (a distant scheduler, TLS over a slow link, a
# peer that never answers) fail as UNAVAILABLE instead of running into the
# call's own deadline.
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


class _FinalFailure(Exception):
    """Carries a failure that another attempt cannot fix past the retry loop."""

    def __init__(self, error: grpc.RpcError) -> None:
        super().__init__()
        self.error = error


def _duration(value: float | timedelta) -> duration_pb2.Duration:
    return to_duration(value.total_seconds() if isinstance(value, timedelta) else float(value))


def _job(
    program: bytes,
    format: str,
    backend: str,
    shots: int,
    timeout: float | timedelta,
    parameters: Mapping[str, str] | None,
) -> job_pb2.Job:
    return job_pb2.Job(
        program=job_pb2.Program(format=format, payload=program),
        settings=job_pb2.JobSettings(
            backend=backend,
            n_shots=shots,
            timeout=_duration(timeout),
            parameters=dict(parameters or {}),
        ),
    )


def open_channel(address: str, tls: bool | grpc.ChannelCredentials = False) -> grpc.Channel:
    """Plain TCP when `tls` is False, system roots when True, or the given credentials."""
    if tls is False:
        return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    credentials = grpc.ssl_channel_credentials() if tls is True else tls
    return grpc.secure_channel(address, credentials, options=CHANNEL_OPTIONS)


class Client:
    """A researcher's handle on one scheduler, authenticated by one token.

    `channel` replaces the connection to `address` with a ready one (custom
    options, interceptors); the client then owns and closes it. With
    `retry_unreachable=False` a scheduler that has never answered this client is
    reported at once instead of retried (a command typed while it is down).
    """

    def __init__(
        self,
        address: str,
        token: str | None = None,
        tls: bool | grpc.ChannelCredentials = False,
        *,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        channel: grpc.Channel | None = None,
        retry_unreachable: bool = True,
    ) -> None:
        if call_timeout_s <= 0:
            raise ValueError("call_timeout_s must be positive")
        self.address = address
        self.call_timeout_s = call_timeout_s
        self.retry = retry or RetryPolicy()
        self._metadata = (("authorization", f"Bearer {resolve_token(token)}"),)
        self._tls = tls is not False
        # True once any call got through; with retry_unreachable, failures count as answered.
        self._ever_connected = retry_unreachable
        self._channel = channel or open_channel(address, tls)
        self._stub = submission_pb2_grpc.SubmissionServiceStub(self._channel)

    def __repr__(self) -> str:
        return f"Client(address={self.address!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _failure(self, error: grpc.RpcError, method: str) -> BerthRpcError:
        return explain(error, method, address=self.address, tls=self._tls)

    def _unary(
        self, name: str, method: grpc.UnaryUnaryMultiCallable[Req, Resp], request: Req
    ) -> Resp:
        def attempt() -> Resp:
            try:
                response = method(request, metadata=self._metadata, timeout=self.call_timeout_s)
            except grpc.RpcError as error:
                if not_worth_retrying(error, ever_connected=self._ever_connected):
                    raise _FinalFailure(error) from None
                self._ever_connected |= error.code() is not grpc.StatusCode.UNAVAILABLE
                raise
            self._ever_connected = True
            return response

        try:
            return call_with_retry(attempt, self.retry)
        except _FinalFailure as final:
            raise self._failure(final.error, name) from final.error
        except grpc.RpcError as error:
            raise self._failure(error, name) from error

    # --- submitting -----------------------------------------------------------

    def submit(
        self,
        program: bytes,
        *,
        format: str,
        backend: str,
        shots: int = 1000,
        timeout: float | timedelta = 60.0,
        parameters: Mapping[str, str] | None = None,
        save_job: bool = False,
        idempotency_key: str | None = None,
        max_attempts: int = 0,
        retry_on_failure: bool = False,
        depends_on: Dependency | Iterable[Dependency] = (),
        condition: DependencyCondition | str = DependencyCondition.AFTER_OK,
    ) -> Job:
        """Queue `program`; `timeout` (seconds or timedelta) bounds its run on the backend.

        `max_attempts` (0: the scheduler's maximum) bounds the runs after lost agents
        and, with `retry_on_failure`, after failed runs. With `depends_on` the job
        is WAITING until those jobs ended as `condition` asks (see `dependencies`).

        Every attempt of one call carries the same idempotency key (a fresh
        random one unless given), so a retry after a lost answer returns the
        job the first attempt created instead of queueing a second one.
        """
        key = idempotency_key or uuid.uuid4().hex
        request = submission_pb2.SubmitJobRequest(
            job=_job(program, format, backend, shots, timeout, parameters),
            options=submission_pb2.SubmitOptions(
                save_job=save_job,
                idempotency_key=key,
                max_attempts=max_attempts,
                retry_on_failure=retry_on_failure,
                dependencies=self.dependencies(depends_on, condition),
            ),
        )
        response = self._unary("SubmitJob", self._stub.SubmitJob, request)
        return Job(self, response.job_id, idempotency_key=key)

    def submit_array(
        self,
        program: bytes,
        parameter_sets: Sequence[Mapping[str, str]],
        *,
        format: str,
        backend: str,
        shots: int = 1000,
        timeout: float | timedelta = 60.0,
        parameters: Mapping[str, str] | None = None,
        max_running: int = 0,
        save_job: bool = False,
        idempotency_key: str | None = None,
        depends_on: Dependency | Iterable[Dependency] = (),
        condition: DependencyCondition | str = DependencyCondition.AFTER_OK,
    ) -> ArraySubmission:
        """Queue one job of `program` per parameter set (each merged over `parameters`).

        All are accepted or none; `max_running` > 0 lets at most that many run at
        once. Retries carry one idempotency key, so they return the same array.
        With `depends_on`, every job of the array waits on the same jobs.
        """
        key = idempotency_key or uuid.uuid4().hex
        request = submission_pb2.SubmitJobArrayRequest(
            job=_job(program, format, backend, shots, timeout, parameters),
            parameter_sets=[
                submission_pb2.ParameterSet(parameters=dict(s)) for s in parameter_sets
            ],
            options=submission_pb2.SubmitOptions(
                save_job=save_job,
                idempotency_key=key,
                dependencies=self.dependencies(depends_on, condition),
            ),
            max_running=max_running,
        )
        response = self._unary("SubmitJobArray", self._stub.SubmitJobArray, request)
        return ArraySubmission(response.array_id, list(response.job_ids))

    def dependencies(
        self, depends_on: Dependency | Iterable[Dependency], condition: DependencyCondition | str
    ) -> submission_pb2.Dependencies | None:
        """What `depends_on` names, as sent: an array (its id or its submission) stands for
        each of its jobs, read with one GetJobArray per array id; each job once, in order.

        ValueError for an unknown condition, even without dependencies.
        """
        condition = DependencyCondition.parse(condition)
        if isinstance(depends_on, str | Job | ArraySubmission):
            depends_on = [depends_on]  # one dependency, not the characters of an id
        job_ids: list[str] = []
        for item in depends_on:
            if isinstance(item, Job):
                job_ids.append(item.id)
            elif isinstance(item, ArraySubmission):
                job_ids.extend(item.job_ids)
            elif is_array_id(item):
                job_ids.extend(job.job_id for job in self.array_status(item).jobs)
            else:
                job_ids.append(item)
        return dependencies_pb(job_ids, condition)

    def array_status(self, array_id: str) -> ArrayStatus:
        """Every job of the array and how many are in each status."""
        request = submission_pb2.GetJobArrayRequest(array_id=array_id)
        return ArrayStatus.from_pb(self._unary("GetJobArray", self._stub.GetJobArray, request))

    def cancel_array(self, array_id: str) -> ArrayCancelOutcome:
        """Cancel every job of the array that has not ended."""
        request = submission_pb2.CancelJobArrayRequest(array_id=array_id)
        response = self._unary("CancelJobArray", self._stub.CancelJobArray, request)
        return ArrayCancelOutcome(
            array_id, response.cancelled, response.cancel_requested, response.already_ended
        )

    def watch_array(
        self, array_id: str, poll_s: float = 2.0, timeout: float | None = None
    ) -> Iterator[ArrayStatus]:
        """The array's status now, then each time its counts change, until every job ended.

        WaitTimeoutError after `timeout` seconds; the jobs themselves are not touched.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        last: dict[str, int] | None = None
        while True:
            status = self.array_status(array_id)
            if status.counts != last:
                last = status.counts
                yield status
            if status.finished:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(array_id, timeout or 0.0, "running")
            time.sleep(poll_s)

    def job(self, job_id: str) -> Job:
        """A handle on an existing job; no call is made until it is used."""
        return Job(self, job_id)

    # --- one job --------------------------------------------------------------

    def job_status(self, job_id: str) -> JobInfo:
        request = submission_pb2.GetJobStatusRequest(job_id=job_id)
        return JobInfo.from_pb(self._unary("GetJobStatus", self._stub.GetJobStatus, request))

    def cancel_job(self, job_id: str) -> CancelOutcome:
        request = submission_pb2.CancelJobRequest(job_id=job_id)
        response = self._unary("CancelJob", self._stub.CancelJob, request)
        return CancelOutcome(
            job_id=job_id,
            status=JobStatus.from_pb(response.status),
            cancel_requested=response.cancel_requested,
        )

    def hold_job(self, job_id: str) -> JobInfo:
        """QUEUED or WAITING -> HELD: no agent gets it until `release_job` (HELD stays HELD)."""
        request = submission_pb2.HoldJobRequest(job_id=job_id)
        return JobInfo.from_pb(self._unary("HoldJob", self._stub.HoldJob, request))

    def release_job(self, job_id: str) -> JobInfo:
        """HELD -> QUEUED, at the back of the line (ResourceExhaustedError at the limit), or
        WAITING for a job whose dependencies have not ended."""
        request = submission_pb2.ReleaseJobRequest(job_id=job_id)
        return JobInfo.from_pb(self._unary("ReleaseJob", self._stub.ReleaseJob, request))

    def result_link(self, job_id: str) -> ResultLink:
        request = submission_pb2.GetJobResultRequest(job_id=job_id)
        response = self._unary("GetJobResult", self._stub.GetJobResult, request)
        expires = response.result.expires_at
        return ResultLink(
            url=response.result.url,
            expires_at=expires.ToDatetime(tzinfo=UTC) if expires.seconds else None,
            raw_bytes=response.result_raw_bytes,
            encoded_bytes=response.result_encoded_bytes,
        )

    def log_url(self, job_id: str) -> str:
        """A short-lived link to an ended job's gzip log (FailedPreconditionError before)."""
        request = submission_pb2.GetJobLogRequest(job_id=job_id)
        return self._unary("GetJobLog", self._stub.GetJobLog, request).log.url

    def watch_job(self, job_id: str, stream_timeout_s: float) -> Iterator[JobInfo]:
        """The WatchJob stream, not retried: `Job.wait` decides what a broken stream means."""
        stream = self._stub.WatchJob(
            submission_pb2.WatchJobRequest(job_id=job_id),
            metadata=self._metadata,
            timeout=stream_timeout_s,
        )
        try:
            for info in stream:
                self._ever_connected = True
                yield JobInfo.from_pb(info)
        except grpc.RpcError as error:
            raise self._failure(error, "WatchJob") from error
        finally:
            stream.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs

    # --- many jobs, backends --------------------------------------------------

    def list_jobs(
        self,
        status: JobStatus | None = None,
        *,
        limit: int | None = None,
        backend: str | None = None,
        all_users: bool = False,
        page_size: int = DEFAULT_LIST_PAGE_SIZE,
    ) -> Iterator[JobInfo]:
        """The caller's jobs, newest first, fetched page by page as the iterator is consumed.

        `all_users` lists everyone's jobs and is for admin tokens only.
        """
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        remaining = limit
        page_token = ""
        while remaining is None or remaining > 0:
            request = submission_pb2.ListJobsRequest(
                status=status.to_pb() if status else job_pb2.JOB_STATUS_UNSPECIFIED,
                backend=backend or "",
                all_users=all_users,
                page_size=page_size if remaining is None else min(page_size, remaining),
                page_token=page_token,
            )
            response = self._unary("ListJobs", self._stub.ListJobs, request)
            for info in response.jobs:
                if remaining is not None:
                    if remaining == 0:
                        return
                    remaining -= 1
                yield JobInfo.from_pb(info)
            page_token = response.next_page_token
            if not page_token:
                return

    def service_status(self, backend: str) -> ServiceStatus:
        request = submission_pb2.GetServiceStatusRequest(backend=backend)
        response = self._unary("GetServiceStatus", self._stub.GetServiceStatus, request)
        return ServiceStatus.from_pb(response)

    def limits(self) -> RoleLimits:
        """The caller's role, its limits, and its queued and running jobs counted against them."""
        request = submission_pb2.GetMyLimitsRequest()
        return RoleLimits.from_pb(self._unary("GetMyLimits", self._stub.GetMyLimits, request))

    def usage(
        self,
        since: float | timedelta | datetime,
        *,
        by: UsageGrouping | str = UsageGrouping.TOTAL,
        all_users: bool = False,
    ) -> UsageReport:
        """Usage of the caller's jobs submitted since `since` (a datetime, or that long ago).

        `all_users` (admin tokens only) covers everyone's jobs and allows `by="user"`.
        """
        grouping = UsageGrouping(by)
        if isinstance(since, datetime):
            start = since
        else:
            back = since if isinstance(since, timedelta) else timedelta(seconds=since)
            start = datetime.now(UTC) - back
        request = submission_pb2.GetUsageRequest(
            since=to_timestamp(start.timestamp()), by=grouping.to_pb(), all_users=all_users
        )
        response = self._unary("GetUsage", self._stub.GetUsage, request)
        return UsageReport.from_pb(response, grouping, all_users)
