"""Protobuf <-> domain conversions, kept in one place so servicers stay thin."""

from __future__ import annotations

from berth.scheduler.v1 import job_pb2, submission_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from berth_common.times import epoch_of, seconds_of, to_duration, to_timestamp
from scheduler.backend_status.backend_status import Availability
from scheduler.domain.attempts import attempts_of
from scheduler.domain.dependencies import Condition
from scheduler.domain.errors import InvalidArgument
from scheduler.domain.jobs import (
    DownloadLink,
    JobRecord,
    JobStatus,
    JobView,
    SubmitRequest,
    UploadTarget,
)

STATUS_TO_PB: dict[JobStatus, job_pb2.JobStatus.ValueType] = {
    JobStatus.QUEUED: job_pb2.JOB_STATUS_QUEUED,
    JobStatus.RUNNING: job_pb2.JOB_STATUS_RUNNING,
    JobStatus.COMPLETED: job_pb2.JOB_STATUS_COMPLETED,
    JobStatus.FAILED: job_pb2.JOB_STATUS_FAILED,
    JobStatus.TIMEOUT: job_pb2.JOB_STATUS_TIMEOUT,
    JobStatus.CANCELLED: job_pb2.JOB_STATUS_CANCELLED,
    JobStatus.HELD: job_pb2.JOB_STATUS_HELD,
    JobStatus.WAITING: job_pb2.JOB_STATUS_WAITING,
}
STATUS_FROM_PB = {value: key for key, value in STATUS_TO_PB.items()}

CONDITION_TO_PB: dict[Condition, submission_pb2.DependencyCondition.ValueType] = {
    Condition.AFTER_OK: submission_pb2.DEPENDENCY_CONDITION_AFTER_OK,
    Condition.AFTER_ANY: submission_pb2.DEPENDENCY_CONDITION_AFTER_ANY,
    Condition.AFTER_NOT_OK: submission_pb2.DEPENDENCY_CONDITION_AFTER_NOT_OK,
}
CONDITION_FROM_PB = {value: key for key, value in CONDITION_TO_PB.items()}

AVAILABILITY_TO_PB: dict[Availability, submission_pb2.Availability.ValueType] = {
    Availability.AVAILABLE: submission_pb2.AVAILABILITY_AVAILABLE,
    Availability.MAINTENANCE: submission_pb2.AVAILABILITY_MAINTENANCE,
    Availability.UNAVAILABLE: submission_pb2.AVAILABILITY_UNAVAILABLE,
}

# The range google.protobuf.Duration itself allows (about 10,000 years). Within it a
# duration is well formed; each field then applies its own rule (a cap, a bound).
MAX_DURATION_S = 315_576_000_000


def timestamp(epoch_s: float) -> timestamp_pb2.Timestamp | None:
    return to_timestamp(epoch_s) if epoch_s else None


def epoch_seconds(ts: timestamp_pb2.Timestamp, field: str) -> float:
    """0.0 for an unset timestamp; INVALID_ARGUMENT for one outside 1970..9999."""
    if ts.seconds < 0 or ts.seconds > 253402300799 or not 0 <= ts.nanos < 1_000_000_000:
        raise InvalidArgument(f"{field} is not a valid timestamp")
    return epoch_of(ts)


def duration_seconds(d: duration_pb2.Duration, field: str) -> float:
    if (
        abs(d.seconds) > MAX_DURATION_S
        or abs(d.nanos) >= 1_000_000_000
        or (d.seconds and d.nanos and (d.seconds > 0) != (d.nanos > 0))
    ):
        raise InvalidArgument(
            f"{field} is not a valid duration (google.protobuf.Duration: at most "
            f"{MAX_DURATION_S} s either way, nanos with the sign of seconds)"
        )
    return seconds_of(d)


def job_status(status: job_pb2.JobStatus.ValueType, field: str) -> JobStatus | None:
    """None for UNSPECIFIED (= any); INVALID_ARGUMENT for a value we do not know."""
    if status == job_pb2.JOB_STATUS_UNSPECIFIED:
        return None
    if status not in STATUS_FROM_PB:
        raise InvalidArgument(f"{field}: unknown job status {status}")
    return STATUS_FROM_PB[status]


def upload_target(target: UploadTarget) -> job_pb2.UploadTarget:
    return job_pb2.UploadTarget(
        url=target.url,
        expires_at=timestamp(target.expires_at),
        headers=target.headers,
        method=target.method,
    )


def download_link(link: DownloadLink) -> job_pb2.DownloadLink:
    return job_pb2.DownloadLink(url=link.url, expires_at=timestamp(link.expires_at))


def timestamps(job: JobRecord) -> job_pb2.JobTimestamps:
    return job_pb2.JobTimestamps(
        submitted_at=timestamp(job.submitted_at),
        queued_at=timestamp(job.queued_at),
        dequeued_at=timestamp(job.dequeued_at),
        execution_started_at=timestamp(job.execution_started_at),
        execution_finished_at=timestamp(job.execution_finished_at),
        finished_at=timestamp(job.finished_at),
    )


def job_info(view: JobView) -> submission_pb2.JobInfo:
    job = view.job
    return submission_pb2.JobInfo(
        job_id=job.job_id,
        status=STATUS_TO_PB[job.status],
        detail=job.detail,
        queue_position=view.queue_position,
        backend=job.backend,
        actual_backend=job.actual_backend,
        format=job.format,
        n_shots=job.n_shots,
        timeout=to_duration(job.timeout_s),
        attempt=job.attempt,
        cancel_requested=job.cancel_requested,
        timestamps=timestamps(job),
        versions=job_pb2.Versions(
            scheduler=job.scheduler_version, agent=job.agent_version, runner=job.runner_version
        ),
        input_bytes=job.payload_bytes,
        result_raw_bytes=job.result_raw_bytes,
        result_encoded_bytes=job.result_encoded_bytes,
        owner_name=job.owner_name,
        parameters=job.parameters,
        attempts=[
            submission_pb2.Attempt(
                number=attempt.number,
                agent_id=attempt.agent_id,
                started_at=timestamp(attempt.started_at),
                ended_at=timestamp(attempt.ended_at),
                outcome=attempt.outcome,
            )
            for attempt in attempts_of(job)
        ],
        max_attempts=job.max_attempts,
        retry_on_failure=job.retry_on_failure,
        dependencies=dependencies(job),
        array_id=job.array_id,
        array_index=job.array_index,
    )


def dependencies(job: JobRecord) -> submission_pb2.Dependencies | None:
    if not job.depends_on:
        return None
    condition = CONDITION_TO_PB[Condition(job.dependency or Condition.AFTER_OK)]
    return submission_pb2.Dependencies(job_ids=job.depends_on, condition=condition)


def dependency_condition(options: submission_pb2.SubmitOptions) -> str:
    """The condition's name; "" for none. UNSPECIFIED with job ids is afterok."""
    deps = options.dependencies
    if deps.condition == submission_pb2.DEPENDENCY_CONDITION_UNSPECIFIED:
        return Condition.AFTER_OK.value if deps.job_ids else ""
    if deps.condition not in CONDITION_FROM_PB:
        raise InvalidArgument(
            f"options.dependencies.condition: unknown condition {deps.condition} "
            "(AFTER_OK, AFTER_ANY or AFTER_NOT_OK)"
        )
    return CONDITION_FROM_PB[deps.condition].value


def submit_request(
    job: job_pb2.Job, options: submission_pb2.SubmitOptions, size_bytes: int
) -> SubmitRequest:
    settings = job.settings
    return SubmitRequest(
        format=job.program.format,
        payload=job.program.payload,
        backend=settings.backend,
        n_shots=settings.n_shots,
        timeout_s=duration_seconds(settings.timeout, "settings.timeout"),
        parameters=dict(settings.parameters),
        save_job=options.save_job,
        idempotency_key=options.idempotency_key,
        size_bytes=size_bytes,
        max_attempts=options.max_attempts,
        retry_on_failure=options.retry_on_failure,
        depends_on=tuple(options.dependencies.job_ids),
        dependency=dependency_condition(options),
    )
