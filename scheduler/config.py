"""Start-up configuration: DESIGN.md §Configuration flags and SCHEDULER_* variables.

Precedence is flag > environment variable > default. Every value is checked
here, before anything starts, and a bad one raises ConfigError naming the flag
or variable, so an operator never finds out about a typo at the first request.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from berth_common.option_values import parse_bool, readable_file
from scheduler.domain.jobs import CLIENT_ROLES, Role

MIB = 1024 * 1024
MAX_INLINE_INPUT_BYTES = 256 * 1024
T = TypeVar("T")


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for the scheduler's ports, checked readable at start-up."""

    cert: Path
    key: Path
    client_ca: Path | None = None


class ConfigError(ValueError):
    """A bad flag or variable; the message names it and says what is expected."""


@dataclass(frozen=True)
class SchedulerConfig:
    port_for_submission: int = 8082
    port_for_execution: int = 8081
    bind_host: str = "[::]"
    address_to_token_database: str = "localhost:8084"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    region: str | None = None
    job_bucket_name_key: str = "/berth/job_bucket_name"
    job_table_name_key: str = "/berth/job_table_name"
    backend_status_parameter_name: str = "/berth/backend_status"
    endpoint: str | None = None
    s3_endpoint: str | None = None
    unify_backends: bool = False
    dev: bool = False
    dev_tokens_file: Path = Path(".berth/dev-tokens.json")
    submission_max_workers: int = 100
    execution_max_workers: int = 10
    submission_max_message_length: int = 10 * MIB
    execution_max_message_length: int = 10 * MIB
    max_queue_bytes: int = 100 * MIB
    max_concurrent_jobs: Mapping[Role, int] = field(
        default_factory=lambda: {Role.ADMIN: 1000, Role.DEVELOPER: 10, Role.GUEST: 5}
    )
    max_job_bytes: Mapping[Role, int] = field(
        default_factory=lambda: {Role.ADMIN: 10 * MIB, Role.DEVELOPER: 10 * MIB, Role.GUEST: MIB}
    )
    # Requests per second per token on the submission port (bursts of one second's worth).
    rate_limit_per_second: Mapping[Role, float] = field(
        default_factory=lambda: {Role.ADMIN: 500.0, Role.DEVELOPER: 100.0, Role.GUEST: 20.0}
    )
    token_cache_seconds: float = 30.0
    download_url_seconds: int = 180
    upload_url_seconds: int = 3 * 3600
    lease_seconds: float = 30.0
    max_attempts: int = 3
    backend_status_refresh_seconds: float = 5.0
    max_assign_wait_seconds: float = 30.0
    job_retention_days: int = 30
    grace_seconds: float = 10.0
    # Several replicas: how often each re-reads the table's QUEUED and RUNNING jobs.
    replica_sync_seconds: float = 5.0
    # Inputs older than this with no job record (a submission that never got its
    # record) are deleted; the sweep runs every orphan_sweep_seconds.
    orphan_input_age_seconds: float = 3600.0
    orphan_sweep_seconds: float = 600.0
    # Inputs up to this size live in the job's DynamoDB item instead of S3 (0 = never).
    inline_input_bytes: int = 32768
    # Finished (terminal) job records kept in memory for status reads; they never change.
    finished_job_cache_entries: int = 10000
    log_format: str = "text"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    metrics_port: int = 9464  # 0 = any free port, -1 = no metrics endpoint
    # DESIGN.md §Queue and priority; the defaults are the seed system's policy.
    priority_weight_timeout: float = 1000.0
    priority_weight_role: float = 0.0
    priority_weight_age: float = 2000.0
    priority_weight_fair_share: float = 1000.0
    priority_max_wait_seconds: float = 1800.0
    fair_share_half_life_seconds: float = 60.0

    @property
    def tls_files(self) -> TlsFiles | None:
        if self.tls_cert is None or self.tls_key is None:
            return None
        return TlsFiles(self.tls_cert, self.tls_key, self.tls_client_ca)

    @property
    def heartbeat_interval_seconds(self) -> float:
        """A third of the lease: two heartbeats may be lost before the lease is."""
        return self.lease_seconds / 3


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be a port number 0..65535 (0 = any free port)")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _weight(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise ValueError("must be a number >= 0")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def _inline_input_bytes(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_INLINE_INPUT_BYTES:
        raise ValueError(
            f"must be 0..{MAX_INLINE_INPUT_BYTES} bytes (0 = every input goes to S3; "
            "a DynamoDB item holds at most 400 KB)"
        )
    return value


def _metrics_port(text: str) -> int:
    value = int(text)
    if not -1 <= value <= 65535:
        raise ValueError("must be a port number 0..65535 (0 = any free port) or -1 (no metrics)")
    return value


def _log_format(text: str) -> str:
    if text not in ("text", "json"):
        raise ValueError("must be 'text' or 'json'")
    return text


@dataclass(frozen=True)
class _Option:
    """One setting: its flag, its environment variable, how to parse it."""

    attr: str
    flags: tuple[str, ...]
    env: str | None
    parse: Callable[[str], object]
    help: str


def _options() -> list[_Option]:
    o = _Option
    options = [
        o(
            "port_for_submission",
            ("--port-for-submission",),
            "SCHEDULER_PORT_FOR_SUBMISSION",
            _port,
            "port of the client-facing SubmissionService",
        ),
        o(
            "port_for_execution",
            ("--port-for-execution",),
            "SCHEDULER_PORT_FOR_EXECUTION",
            _port,
            "port of the agent-facing ExecutionService",
        ),
        o(
            "bind_host",
            ("--bind-host",),
            "SCHEDULER_BIND_HOST",
            str,
            "interface both ports listen on",
        ),
        o(
            "address_to_token_database",
            ("-t", "--address_to_token_database"),
            "SCHEDULER_ADDRESS_TO_TOKEN_DATABASE",
            str,
            "HOST:PORT of the token database",
        ),
        o(
            "aws_access_key_id",
            ("-k", "--aws_access_key_id"),
            None,
            str,
            "AWS access key id (default: the standard AWS credential chain)",
        ),
        o(
            "aws_secret_access_key",
            ("-s", "--aws_secret_access_key"),
            None,
            str,
            "AWS secret access key",
        ),
        o("region", ("--region",), "SCHEDULER_REGION", str, "AWS region"),
        o(
            "job_bucket_name_key",
            ("--job_bucket_name_key",),
            "SCHEDULER_JOB_BUCKET_NAME_KEY",
            str,
            "SSM parameter holding the job bucket's name",
        ),
        o(
            "job_table_name_key",
            ("--job_table_name_key",),
            "SCHEDULER_JOB_TABLE_NAME_KEY",
            str,
            "SSM parameter holding the job table's name",
        ),
        o(
            "backend_status_parameter_name",
            ("--backend_status_parameter_name",),
            "SCHEDULER_BACKEND_STATUS_PARAMETER_NAME",
            str,
            "SSM parameter holding the backend-status TOML",
        ),
        o(
            "endpoint",
            ("--endpoint",),
            "SCHEDULER_ENDPOINT",
            str,
            "AWS endpoint URL (an emulator such as moto or LocalStack)",
        ),
        o(
            "s3_endpoint",
            ("--s3_endpoint",),
            "SCHEDULER_S3_ENDPOINT",
            str,
            "S3 endpoint URL, only with --dev",
        ),
        o(
            "dev_tokens_file",
            ("--dev-tokens-file",),
            "SCHEDULER_DEV_TOKENS_FILE",
            Path,
            "with --dev: where the development tokens are written as JSON {role: token}",
        ),
        o(
            "submission_max_workers",
            ("--submission-max-workers",),
            "SCHEDULER_SUBMISSION_MAX_WORKERS",
            _positive_int,
            "threads for blocking AWS calls of the submission port",
        ),
        o(
            "execution_max_workers",
            ("--execution-max-workers",),
            "SCHEDULER_EXECUTION_MAX_WORKERS",
            _positive_int,
            "threads for blocking AWS calls of the execution port",
        ),
        o(
            "submission_max_message_length",
            ("--submission-max-message-length",),
            "SCHEDULER_SUBMISSION_MAX_MESSAGE_LENGTH",
            _positive_int,
            "largest gRPC message accepted on the submission port, bytes",
        ),
        o(
            "execution_max_message_length",
            ("--execution-max-message-length",),
            "SCHEDULER_EXECUTION_MAX_MESSAGE_LENGTH",
            _positive_int,
            "largest gRPC message accepted on the execution port, bytes",
        ),
        o(
            "max_queue_bytes",
            ("--max-queue-bytes",),
            "SCHEDULER_MAX_QUEUE_BYTES",
            _positive_int,
            "total bytes of queued jobs over all backends",
        ),
        o(
            "token_cache_seconds",
            ("--token-cache-seconds",),
            "SCHEDULER_TOKEN_CACHE_SECONDS",
            _positive_float,
            "how long a verified token is trusted without asking again",
        ),
        o(
            "download_url_seconds",
            ("--download-url-seconds",),
            "SCHEDULER_DOWNLOAD_URL_SECONDS",
            _positive_int,
            "lifetime of presigned result/log download URLs",
        ),
        o(
            "upload_url_seconds",
            ("--upload-url-seconds",),
            "SCHEDULER_UPLOAD_URL_SECONDS",
            _positive_int,
            "lifetime of presigned result/log upload URLs",
        ),
        o(
            "lease_seconds",
            ("--lease-seconds",),
            "SCHEDULER_LEASE_SECONDS",
            _positive_float,
            "a running job's lease; agents heartbeat every third of it",
        ),
        o(
            "max_attempts",
            ("--max-attempts",),
            "SCHEDULER_MAX_ATTEMPTS",
            _positive_int,
            "assignments of one job before a lost lease fails it",
        ),
        o(
            "backend_status_refresh_seconds",
            ("--backend-status-refresh-seconds",),
            "SCHEDULER_BACKEND_STATUS_REFRESH_SECONDS",
            _positive_float,
            "how often the backend-status parameter is re-read",
        ),
        o(
            "max_assign_wait_seconds",
            ("--max-assign-wait-seconds",),
            "SCHEDULER_MAX_ASSIGN_WAIT_SECONDS",
            _positive_float,
            "cap on an AssignNextJob long-poll",
        ),
        o(
            "job_retention_days",
            ("--job-retention-days",),
            "SCHEDULER_JOB_RETENTION_DAYS",
            _positive_int,
            "days a finished job's record is kept (DynamoDB TTL)",
        ),
        o(
            "grace_seconds",
            ("--grace-seconds",),
            "SCHEDULER_GRACE_SECONDS",
            _positive_float,
            "on SIGTERM, how long in-flight calls may take to finish",
        ),
        o(
            "replica_sync_seconds",
            ("--replica-sync-seconds",),
            "SCHEDULER_REPLICA_SYNC_SECONDS",
            _positive_float,
            "how often a replica re-reads the jobs other replicas accepted, claimed or ended",
        ),
        o(
            "orphan_input_age_seconds",
            ("--orphan-input-age-seconds",),
            "SCHEDULER_ORPHAN_INPUT_AGE_SECONDS",
            _positive_float,
            "age at which a stored input without a job record is deleted",
        ),
        o(
            "orphan_sweep_seconds",
            ("--orphan-sweep-seconds",),
            "SCHEDULER_ORPHAN_SWEEP_SECONDS",
            _positive_float,
            "how often the bucket is swept for inputs without a job record",
        ),
        o(
            "inline_input_bytes",
            ("--inline-input-bytes",),
            "SCHEDULER_INLINE_INPUT_BYTES",
            _inline_input_bytes,
            "inputs up to this size (and not save_job) are stored in the job's DynamoDB item, "
            "not in S3: one write per submission instead of two (0 = always S3)",
        ),
        o(
            "finished_job_cache_entries",
            ("--finished-job-cache-entries",),
            "SCHEDULER_FINISHED_JOB_CACHE_ENTRIES",
            _non_negative_int,
            "finished jobs' records kept in memory for status and result reads "
            "(a finished job never changes; 0 = none)",
        ),
        o("log_format", ("--log-format",), "SCHEDULER_LOG_FORMAT", _log_format, "text or json"),
        o(
            "tls_cert",
            ("--tls-cert",),
            "SCHEDULER_TLS_CERT",
            readable_file,
            "PEM certificate (chain) both ports present; with --tls-key, both ports use TLS",
        ),
        o("tls_key", ("--tls-key",), "SCHEDULER_TLS_KEY", readable_file, "PEM private key"),
        o(
            "tls_client_ca",
            ("--tls-client-ca",),
            "SCHEDULER_TLS_CLIENT_CA",
            readable_file,
            "PEM CA: the execution port then requires agents' client certificates signed by it",
        ),
        o(
            "metrics_port",
            ("--metrics-port",),
            "SCHEDULER_METRICS_PORT",
            _metrics_port,
            "port of the Prometheus /metrics endpoint (default 9464; 0 = any free port, -1 = off)",
        ),
    ]
    for term in ("timeout", "role", "age", "fair_share"):
        dashed = term.replace("_", "-")
        options.append(
            o(
                f"priority_weight_{term}",
                (f"--priority-weight-{dashed}",),
                f"SCHEDULER_PRIORITY_WEIGHT_{term.upper()}",
                _weight,
                f"weight of the {term.replace('_', '-')} factor in a queued job's priority",
            )
        )
    options += [
        o(
            "priority_max_wait_seconds",
            ("--priority-max-wait-seconds",),
            "SCHEDULER_PRIORITY_MAX_WAIT_SECONDS",
            _positive_float,
            "wait at which the age factor reaches 1 and a job goes before all others",
        ),
        o(
            "fair_share_half_life_seconds",
            ("--fair-share-half-life-seconds",),
            "SCHEDULER_FAIR_SHARE_HALF_LIFE_SECONDS",
            _positive_float,
            "half-life of a token's recent-submission count (fair share)",
        ),
    ]
    for role in CLIENT_ROLES:
        name = role.value.upper()
        options.append(
            o(
                f"max_concurrent_jobs:{role.value}",
                (),
                f"SCHEDULER_MAX_CONCURRENT_JOBS_{name}",
                _positive_int,
                f"queued + running jobs per {role.value} token",
            )
        )
        options.append(
            o(
                f"max_job_bytes:{role.value}",
                (),
                f"SCHEDULER_MAX_JOB_BYTES_{name}",
                _positive_int,
                f"largest submit request of a {role.value}, bytes",
            )
        )
        options.append(
            o(
                f"rate_limit_per_second:{role.value}",
                (),
                f"SCHEDULER_RATE_LIMIT_{name}",
                _weight,
                f"requests per second per {role.value} token on the submission port (0 = no limit)",
            )
        )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler",
        description="Berth scheduler: submission and execution gRPC services.",
        epilog="Every option also reads its SCHEDULER_* environment variable (see README).",
    )
    for option in _options():
        if not option.flags:
            continue
        env_note = f" [env {option.env}]" if option.env else ""
        # Parsed later, so that a bad value is reported in our words, naming the flag.
        parser.add_argument(
            *option.flags, dest=option.attr, default=None, help=option.help + env_note
        )
    parser.add_argument(
        "--unify_backends",
        action="store_true",
        default=None,
        help="one queue for all backends [env SCHEDULER_UNIFY_BACKENDS=1]",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        default=None,
        help="embedded system: in-process AWS emulator (unless --endpoint), "
        "token database and development tokens [env SCHEDULER_DEV=1]",
    )
    return parser


def _parse_bool(name: str, text: str) -> bool:
    try:
        return parse_bool(text)
    except ValueError as error:
        raise ConfigError(f"{name}={text!r}: {error}") from None


def load_config(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> SchedulerConfig:
    """Parse flags and environment; raise ConfigError naming the first bad value."""
    environ = os.environ if env is None else env
    args = vars(build_parser().parse_args(argv))
    values: dict[str, object] = {}
    per_role: dict[str, dict[Role, object]] = {
        "max_concurrent_jobs": {},
        "max_job_bytes": {},
        "rate_limit_per_second": {},
    }
    for option in _options():
        raw = args.get(option.attr)
        source = option.flags[-1] if option.flags else ""
        if raw is None and option.env and option.env in environ:
            raw, source = environ[option.env], option.env
        if raw is None:
            continue
        try:
            value = option.parse(str(raw))
        except ValueError as error:
            detail = str(error) if "must" in str(error) else f"not a valid value ({error})"
            raise ConfigError(f"{source}={raw!r}: {detail}") from error
        if ":" in option.attr:
            group, role = option.attr.split(":")
            per_role[group][Role(role)] = value
        else:
            values[option.attr] = value
    for flag, attr, env_name in (
        ("--unify_backends", "unify_backends", "SCHEDULER_UNIFY_BACKENDS"),
        ("--dev", "dev", "SCHEDULER_DEV"),
    ):
        if args.get(attr):
            values[attr] = True
        elif env_name in environ:
            values[attr] = _parse_bool(env_name, environ[env_name])
        del flag
    defaults = SchedulerConfig()
    values["max_concurrent_jobs"] = {
        **defaults.max_concurrent_jobs,
        **per_role["max_concurrent_jobs"],
    }
    values["max_job_bytes"] = {**defaults.max_job_bytes, **per_role["max_job_bytes"]}
    values["rate_limit_per_second"] = {
        **defaults.rate_limit_per_second,
        **per_role["rate_limit_per_second"],
    }
    config = SchedulerConfig(**values)  # type: ignore[arg-type]
    if config.s3_endpoint and not config.dev:
        raise ConfigError("--s3_endpoint is only allowed with --dev")
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together: give both or neither")
    if config.tls_client_ca is not None and config.tls_cert is None:
        raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key (TLS on the ports)")
    return config
