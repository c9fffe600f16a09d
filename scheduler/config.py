"""Start-up configuration: every flag and SCHEDULER_* variable, declared once each.

Precedence is flag > environment variable > default (berth_common/options.py).
Every value is checked here, before anything starts, and a bad one raises
ConfigError naming the flag or variable, so an operator never finds out about a
typo at the first request.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from berth_common.option_values import (
    checked,
    log_format,
    non_negative_int,
    parse_bool,
    positive_int,
    readable_file,
)
from berth_common.options import (
    ConfigError,
    Option,
    add_arguments,
    declared_options,
    keyed_options,
    option,
    resolve,
)
from scheduler.domain.jobs import CLIENT_ROLES, Role

__all__ = ["ConfigError", "SchedulerConfig", "TlsFiles", "build_parser", "load_config"]

MIB = 1024 * 1024
MAX_INLINE_INPUT_BYTES = 256 * 1024
# Room for a request's framing and its other fields next to the largest job; a submit
# request's whole serialized size is what SCHEDULER_MAX_JOB_BYTES_<ROLE> limits.
MESSAGE_OVERHEAD = 64 * 1024
MIN_SEND_BYTES = 10 * MIB
ENV_PREFIX = "SCHEDULER_"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for the scheduler's ports, checked readable at start-up."""

    cert: Path
    key: Path
    client_ca: Path | None = None


_port = checked(
    int, lambda value: 0 <= value <= 65535, "a port number 0..65535 (0 = any free port)"
)
_positive_float = checked(float, lambda value: value > 0, "a positive number")
_weight = checked(float, lambda value: 0 <= value < float("inf"), "a number >= 0")
_inline_input_bytes = checked(
    int,
    lambda value: 0 <= value <= MAX_INLINE_INPUT_BYTES,
    f"0..{MAX_INLINE_INPUT_BYTES} bytes (0 = every input goes to S3; "
    "a DynamoDB item holds at most 400 KB)",
)
_metrics_port = checked(
    int,
    lambda value: -1 <= value <= 65535,
    "a port number 0..65535 (0 = any free port) or -1 (no metrics)",
)
_dashboard_port = checked(
    int,
    lambda value: -1 <= value <= 65535,
    "a port number 0..65535 (0 = any free port) or -1 (no dashboard)",
)


def _per_role(env_stem: str, parse: Callable[[str], object], help: str) -> dict[Role, Option]:
    """One variable per client role, e.g. SCHEDULER_MAX_JOB_BYTES_GUEST."""
    return {
        role: Option((), f"{ENV_PREFIX}{env_stem}_{role.value.upper()}", parse, help % role.value)
        for role in CLIENT_ROLES
    }


def _weight_option(default: float, term: str) -> float:
    dashed = term.replace("_", "-")
    return option(  # type: ignore[no-any-return]
        default,
        f"--priority-weight-{dashed}",
        env=f"{ENV_PREFIX}PRIORITY_WEIGHT_{term.upper()}",
        parse=_weight,
        help=f"weight of the {dashed} factor in a queued job's priority",
    )


@dataclass(frozen=True)
class SchedulerConfig:
    port_for_submission: int = option(
        8082,
        "--port-for-submission",
        env="SCHEDULER_PORT_FOR_SUBMISSION",
        parse=_port,
        help="port of the client-facing SubmissionService",
    )
    port_for_execution: int = option(
        8081,
        "--port-for-execution",
        env="SCHEDULER_PORT_FOR_EXECUTION",
        parse=_port,
        help="port of the agent-facing ExecutionService",
    )
    bind_host: str = option(
        "[::]", "--bind-host", env="SCHEDULER_BIND_HOST", help="interface both ports listen on"
    )
    address_to_token_database: str = option(
        "localhost:8084",
        "-t",
        "--address_to_token_database",
        env="SCHEDULER_ADDRESS_TO_TOKEN_DATABASE",
        help="HOST:PORT of the token database",
    )
    aws_access_key_id: str | None = option(
        None,
        "-k",
        "--aws_access_key_id",
        help="AWS access key id (default: the standard AWS credential chain)",
    )
    aws_secret_access_key: str | None = option(
        None, "-s", "--aws_secret_access_key", help="AWS secret access key"
    )
    region: str | None = option(None, "--region", env="SCHEDULER_REGION", help="AWS region")
    job_bucket_name_key: str = option(
        "/berth/job_bucket_name",
        "--job_bucket_name_key",
        env="SCHEDULER_JOB_BUCKET_NAME_KEY",
        help="SSM parameter holding the job bucket's name",
    )
    job_table_name_key: str = option(
        "/berth/job_table_name",
        "--job_table_name_key",
        env="SCHEDULER_JOB_TABLE_NAME_KEY",
        help="SSM parameter holding the job table's name",
    )
    backend_status_parameter_name: str = option(
        "/berth/backend_status",
        "--backend_status_parameter_name",
        env="SCHEDULER_BACKEND_STATUS_PARAMETER_NAME",
        help="SSM parameter holding the backend-status TOML",
    )
    endpoint: str | None = option(
        None,
        "--endpoint",
        env="SCHEDULER_ENDPOINT",
        help="AWS endpoint URL (an emulator such as moto or LocalStack)",
    )
    s3_endpoint: str | None = option(
        None, "--s3_endpoint", env="SCHEDULER_S3_ENDPOINT", help="S3 endpoint URL, only with --dev"
    )
    unify_backends: bool = option(
        False,
        "--unify_backends",
        env="SCHEDULER_UNIFY_BACKENDS",
        parse=parse_bool,
        switch=True,
        help="one queue for all backends",
    )
    dev: bool = option(
        False,
        "--dev",
        env="SCHEDULER_DEV",
        parse=parse_bool,
        switch=True,
        help="embedded system: in-process AWS emulator (unless --endpoint), "
        "token database and development tokens",
    )
    dev_tokens_file: Path = option(
        Path(".berth/dev-tokens.json"),
        "--dev-tokens-file",
        env="SCHEDULER_DEV_TOKENS_FILE",
        parse=Path,
        help="with --dev: where the development tokens are written as JSON {role: token}",
    )
    submission_max_workers: int = option(
        100,
        "--submission-max-workers",
        env="SCHEDULER_SUBMISSION_MAX_WORKERS",
        parse=positive_int,
        help="threads for blocking AWS calls of the submission port",
    )
    execution_max_workers: int = option(
        10,
        "--execution-max-workers",
        env="SCHEDULER_EXECUTION_MAX_WORKERS",
        parse=positive_int,
        help="threads for blocking AWS calls of the execution port",
    )
    # Explicit overrides; unset, each port receives the largest job plus protocol overhead.
    submission_max_message_length: int | None = option(
        None,
        "--submission-max-message-length",
        env="SCHEDULER_SUBMISSION_MAX_MESSAGE_LENGTH",
        parse=positive_int,
        help="largest gRPC message accepted on the submission port, bytes "
        "(default: the largest job size any role may submit + 64 KiB)",
    )
    execution_max_message_length: int | None = option(
        None,
        "--execution-max-message-length",
        env="SCHEDULER_EXECUTION_MAX_MESSAGE_LENGTH",
        parse=positive_int,
        help="largest gRPC message accepted on the execution port, bytes "
        "(default: the largest job size any role may submit + 64 KiB)",
    )
    max_queue_bytes: int = option(
        100 * MIB,
        "--max-queue-bytes",
        env="SCHEDULER_MAX_QUEUE_BYTES",
        parse=positive_int,
        help="total bytes of queued jobs over all backends",
    )
    max_concurrent_jobs: Mapping[Role, int] = keyed_options(
        {Role.ADMIN: 1000, Role.DEVELOPER: 10, Role.GUEST: 5},
        _per_role(
            "MAX_CONCURRENT_JOBS", positive_int, "queued + waiting + running jobs per %s token"
        ),
    )
    max_job_bytes: Mapping[Role, int] = keyed_options(
        {Role.ADMIN: 10 * MIB, Role.DEVELOPER: 10 * MIB, Role.GUEST: MIB},
        _per_role("MAX_JOB_BYTES", positive_int, "largest submit request of a %s, bytes"),
    )
    # Longest job timeout a role may ask for; also the priority formula's timeout scale.
    max_timeout_seconds: Mapping[Role, float] = keyed_options(
        {Role.ADMIN: 3600.0, Role.DEVELOPER: 600.0, Role.GUEST: 300.0},
        _per_role(
            "MAX_TIMEOUT_SECONDS",
            _positive_float,
            "longest job timeout a %s may ask for, seconds",
        ),
    )
    max_array_jobs: Mapping[Role, int] = keyed_options(
        {Role.ADMIN: 10000, Role.DEVELOPER: 1000, Role.GUEST: 100},
        _per_role("MAX_ARRAY_JOBS", positive_int, "most jobs in one array of a %s"),
    )
    # Requests per second per token on the submission port (bursts of one second's worth).
    rate_limit_per_second: Mapping[Role, float] = keyed_options(
        {Role.ADMIN: 500.0, Role.DEVELOPER: 100.0, Role.GUEST: 20.0},
        _per_role(
            "RATE_LIMIT",
            _weight,
            "requests per second per %s token on the submission port (0 = no limit)",
        ),
    )
    token_cache_seconds: float = option(
        30.0,
        "--token-cache-seconds",
        env="SCHEDULER_TOKEN_CACHE_SECONDS",
        parse=_positive_float,
        help="how long a verified token is trusted without asking again",
    )
    # Health says NOT_SERVING once the token database has not answered for this long.
    token_database_grace_seconds: float = option(
        10.0,
        "--token-database-grace-seconds",
        env="SCHEDULER_TOKEN_DATABASE_GRACE_SECONDS",
        parse=_positive_float,
        help="health turns NOT_SERVING when the token database has not answered for this long "
        "(and is NOT_SERVING at start until it answers)",
    )
    download_url_seconds: int = option(
        180,
        "--download-url-seconds",
        env="SCHEDULER_DOWNLOAD_URL_SECONDS",
        parse=positive_int,
        help="lifetime of presigned result/log download URLs",
    )
    upload_url_seconds: int = option(
        3 * 3600,
        "--upload-url-seconds",
        env="SCHEDULER_UPLOAD_URL_SECONDS",
        parse=positive_int,
        help="lifetime of presigned result/log upload URLs",
    )
    lease_seconds: float = option(
        30.0,
        "--lease-seconds",
        env="SCHEDULER_LEASE_SECONDS",
        parse=_positive_float,
        help="a running job's lease; agents heartbeat every third of it",
    )
    max_attempts: int = option(
        3,
        "--max-attempts",
        env="SCHEDULER_MAX_ATTEMPTS",
        parse=positive_int,
        help="assignments of one job before a lost lease fails it; the most a job may ask for",
    )
    backend_status_refresh_seconds: float = option(
        5.0,
        "--backend-status-refresh-seconds",
        env="SCHEDULER_BACKEND_STATUS_REFRESH_SECONDS",
        parse=_positive_float,
        help="how often the backend-status parameter is re-read",
    )
    max_assign_wait_seconds: float = option(
        30.0,
        "--max-assign-wait-seconds",
        env="SCHEDULER_MAX_ASSIGN_WAIT_SECONDS",
        parse=_positive_float,
        help="cap on an AssignNextJob long-poll",
    )
    job_retention_days: int = option(
        30,
        "--job-retention-days",
        env="SCHEDULER_JOB_RETENTION_DAYS",
        parse=positive_int,
        help="days a finished job's record is kept (DynamoDB TTL)",
    )
    grace_seconds: float = option(
        10.0,
        "--grace-seconds",
        env="SCHEDULER_GRACE_SECONDS",
        parse=_positive_float,
        help="on SIGTERM, how long in-flight calls may take to finish",
    )
    replica_sync_seconds: float = option(
        5.0,
        "--replica-sync-seconds",
        env="SCHEDULER_REPLICA_SYNC_SECONDS",
        parse=_positive_float,
        help="how often a replica re-reads the jobs other replicas accepted, claimed or ended",
    )
    orphan_input_age_seconds: float = option(
        3600.0,
        "--orphan-input-age-seconds",
        env="SCHEDULER_ORPHAN_INPUT_AGE_SECONDS",
        parse=_positive_float,
        help="age at which a stored input without a job record is deleted",
    )
    orphan_sweep_seconds: float = option(
        600.0,
        "--orphan-sweep-seconds",
        env="SCHEDULER_ORPHAN_SWEEP_SECONDS",
        parse=_positive_float,
        help="how often the bucket is swept for inputs without a job record",
    )
    inline_input_bytes: int = option(
        32768,
        "--inline-input-bytes",
        env="SCHEDULER_INLINE_INPUT_BYTES",
        parse=_inline_input_bytes,
        help="inputs up to this size (and not save_job) are stored in the job's DynamoDB item, "
        "not in S3: one write per submission instead of two (0 = always S3)",
    )
    finished_job_cache_entries: int = option(
        10000,
        "--finished-job-cache-entries",
        env="SCHEDULER_FINISHED_JOB_CACHE_ENTRIES",
        parse=non_negative_int,
        help="finished jobs' records kept in memory for status and result reads "
        "(a finished job never changes; 0 = none)",
    )
    log_format: str = option(
        "text", "--log-format", env="SCHEDULER_LOG_FORMAT", parse=log_format, help="text or json"
    )
    tls_cert: Path | None = option(
        None,
        "--tls-cert",
        env="SCHEDULER_TLS_CERT",
        parse=readable_file,
        help="PEM certificate (chain) both ports present; with --tls-key, both ports use TLS",
    )
    tls_key: Path | None = option(
        None, "--tls-key", env="SCHEDULER_TLS_KEY", parse=readable_file, help="PEM private key"
    )
    tls_client_ca: Path | None = option(
        None,
        "--tls-client-ca",
        env="SCHEDULER_TLS_CLIENT_CA",
        parse=readable_file,
        help="PEM CA: the execution port then requires agents' client certificates signed by it",
    )
    metrics_port: int = option(
        9464,
        "--metrics-port",
        env="SCHEDULER_METRICS_PORT",
        parse=_metrics_port,
        help="port of the Prometheus /metrics endpoint (default 9464; 0 = any free port, -1 = off)",
    )
    dashboard_port: int = option(
        8080,
        "--dashboard-port",
        env="SCHEDULER_DASHBOARD_PORT",
        parse=_dashboard_port,
        help="with --dev: port of the web dashboard (default 8080; 0 = any free port, -1 = off)",
    )
    # The priority formula (docs/architecture.md, "Queue and priority"); the defaults are the
    # seed system's policy.
    priority_weight_timeout: float = _weight_option(1000.0, "timeout")
    priority_weight_role: float = _weight_option(0.0, "role")
    priority_weight_age: float = _weight_option(2000.0, "age")
    priority_weight_fair_share: float = _weight_option(1000.0, "fair_share")
    priority_max_wait_seconds: float = option(
        1800.0,
        "--priority-max-wait-seconds",
        env="SCHEDULER_PRIORITY_MAX_WAIT_SECONDS",
        parse=_positive_float,
        help="wait at which the age factor reaches 1 and a job goes before all others",
    )
    fair_share_half_life_seconds: float = option(
        60.0,
        "--fair-share-half-life-seconds",
        env="SCHEDULER_FAIR_SHARE_HALF_LIFE_SECONDS",
        parse=_positive_float,
        help="half-life of a token's recent-submission count (fair share)",
    )

    @property
    def tls_files(self) -> TlsFiles | None:
        if self.tls_cert is None or self.tls_key is None:
            return None
        return TlsFiles(self.tls_cert, self.tls_key, self.tls_client_ca)

    @property
    def largest_job_bytes(self) -> int:
        return max(self.max_job_bytes.values())

    @property
    def submission_receive_bytes(self) -> int:
        """gRPC reads a whole message before any check: no port reads more than a job needs."""
        return self.submission_max_message_length or self.largest_job_bytes + MESSAGE_OVERHEAD

    @property
    def execution_receive_bytes(self) -> int:
        return self.execution_max_message_length or self.largest_job_bytes + MESSAGE_OVERHEAD

    @property
    def send_bytes(self) -> int:
        """Replies are the scheduler's own (an assignment carries a whole job): not a risk."""
        return max(self.largest_job_bytes + MESSAGE_OVERHEAD, MIN_SEND_BYTES) + MESSAGE_OVERHEAD

    @property
    def heartbeat_interval_seconds(self) -> float:
        """A third of the lease: two heartbeats may be lost before the lease is."""
        return self.lease_seconds / 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler",
        description="Berth scheduler: submission and execution gRPC services.",
        epilog="Every option also reads its SCHEDULER_* environment variable (see the docs).",
    )
    add_arguments(parser, declared_options(SchedulerConfig))
    return parser


def load_config(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> SchedulerConfig:
    """Parse flags and environment; raise ConfigError naming the first bad value."""
    environ = os.environ if env is None else env
    flags = vars(build_parser().parse_args(argv))
    config = SchedulerConfig(**resolve(declared_options(SchedulerConfig), flags, environ))
    if config.s3_endpoint and not config.dev:
        raise ConfigError("--s3_endpoint is only allowed with --dev")
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together: give both or neither")
    if config.tls_client_ca is not None and config.tls_cert is None:
        raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key (TLS on the ports)")
    return config
