"""Validation of submissions against per-role limits and field rules."""

from __future__ import annotations

import re

from scheduler.config import SchedulerConfig
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


def check_job_id(job_id: str) -> None:
    """Any id that cannot exist is simply not found: its shape leaks nothing."""
    if not _JOB_ID.match(job_id):
        raise NotFound(f"no job {job_id[:64]!r} for this token")
