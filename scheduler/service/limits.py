"""Validation of submissions against per-role limits and field rules."""

from __future__ import annotations

import re

from scheduler.config import SchedulerConfig
from scheduler.domain.dependencies import MAX_DEPENDENCIES, Condition
from scheduler.domain.errors import InvalidArgument, NotFound
from scheduler.domain.jobs import Principal, SubmitRequest

MAX_TIMEOUT_S = 24 * 3600
MAX_SHOTS = 10**9
MAX_PARAMETERS = 64
MAX_PARAMETER_KEY = 128
MAX_PARAMETER_VALUE = 4096
MAX_IDEMPOTENCY_KEY = 128
_FORMAT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-/]{0,63}$")
_BACKEND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@\-]{0,127}$")
_JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def check_submission(request: SubmitRequest, principal: Principal, config: SchedulerConfig) -> None:
    limit = config.max_job_bytes[principal.role]
    if request.size_bytes > limit:
        raise InvalidArgument(
            f"job is {request.size_bytes} bytes; the limit for role {principal.role.value} is "
            f"{limit} bytes (SCHEDULER_MAX_JOB_BYTES_{principal.role.value.upper()})"
        )
    if not request.payload:
        raise InvalidArgument("program.payload is empty: a job needs a program to run")
    if not _FORMAT.match(request.format):
        raise InvalidArgument(
            "program.format must be 1-64 characters of letters, digits and ._+-/ (e.g. 'qasm3')"
        )
    check_backend_name(request.backend, "settings.backend")
    if not 0 < request.n_shots <= MAX_SHOTS:
        raise InvalidArgument(f"settings.n_shots must be between 1 and {MAX_SHOTS}")
    if not 0 < request.timeout_s <= MAX_TIMEOUT_S:
        raise InvalidArgument("settings.timeout must be more than 0 s and at most 24 h")
    role_max = config.max_timeout_seconds[principal.role]
    if request.timeout_s > role_max:
        raise InvalidArgument(
            f"settings.timeout is {request.timeout_s:g} s; the maximum for role "
            f"{principal.role.value} is {role_max:g} s "
            f"(SCHEDULER_MAX_TIMEOUT_SECONDS_{principal.role.value.upper()})"
        )
    if len(request.parameters) > MAX_PARAMETERS:
        raise InvalidArgument(f"settings.parameters may hold at most {MAX_PARAMETERS} entries")
    for key, value in request.parameters.items():
        if not 0 < len(key) <= MAX_PARAMETER_KEY or len(value) > MAX_PARAMETER_VALUE:
            raise InvalidArgument(
                f"settings.parameters: keys must be 1-{MAX_PARAMETER_KEY} characters and values "
                f"at most {MAX_PARAMETER_VALUE}"
            )
    if len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument(
            f"options.idempotency_key must be at most {MAX_IDEMPOTENCY_KEY} characters"
        )
    if not 0 <= request.max_attempts <= config.max_attempts:
        raise InvalidArgument(
            f"options.max_attempts is {request.max_attempts}; it must be between 1 and this "
            f"scheduler's maximum, {config.max_attempts} (SCHEDULER_MAX_ATTEMPTS), or 0 for "
            "that maximum"
        )
    check_dependencies(request)


def check_dependencies(request: SubmitRequest) -> None:
    """The shape of options.dependencies; whether the jobs exist is the service's to say."""
    field = "options.dependencies"
    if request.dependency and request.dependency not in set(Condition):
        raise InvalidArgument(f"{field}.condition: unknown condition {request.dependency!r}")
    if not request.depends_on:
        if request.dependency:
            raise InvalidArgument(
                f"{field}.condition is set but {field}.job_ids is empty: name the jobs this "
                "job depends on, or leave the condition unset"
            )
        return
    if len(request.depends_on) > MAX_DEPENDENCIES:
        raise InvalidArgument(
            f"{field}.job_ids names {len(request.depends_on)} jobs; a job may depend on at "
            f"most {MAX_DEPENDENCIES}: chain jobs, or depend on one that ends after the others"
        )
    if any(not job_id for job_id in request.depends_on):
        raise InvalidArgument(f"{field}.job_ids holds an empty id: name each job by its id")
    seen: set[str] = set()
    for job_id in request.depends_on:
        if job_id in seen:
            raise InvalidArgument(f"{field}.job_ids names job {job_id[:64]} twice: name it once")
        seen.add(job_id)


def check_backend_name(backend: str, field: str) -> None:
    if not _BACKEND.match(backend):
        raise InvalidArgument(
            f"{field} must be 1-64 characters of letters, digits and ._- (e.g. 'qpu')"
        )


def check_agent_id(agent_id: str) -> None:
    if not _AGENT_ID.match(agent_id):
        raise InvalidArgument(
            "agent_id must be 1-128 characters of letters, digits and ._:@- (stable per slot)"
        )


def is_job_id(value: str) -> bool:
    return bool(_JOB_ID.match(value))


def check_job_id(job_id: str) -> None:
    """Any id that cannot exist is simply not found: its shape leaks nothing."""
    if not is_job_id(job_id):
        raise NotFound(f"no job {job_id[:64]!r} for this token")
