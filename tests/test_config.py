"""Flags and SCHEDULER_* variables: their documented names and defaults, bad values named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.config import MIB, ConfigError, SchedulerConfig, load_config
from scheduler.domain.jobs import Role

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_match_the_design() -> None:
    config = load_config([], env={})
    assert config == SchedulerConfig()
    assert (config.port_for_submission, config.port_for_execution) == (8082, 8081)
    assert (config.submission_max_workers, config.execution_max_workers) == (100, 10)
    # Each port receives at most the largest job (admin, 10 MiB) plus 64 KiB of overhead.
    assert config.submission_receive_bytes == config.execution_receive_bytes == 10 * MIB + 65536
    assert config.max_queue_bytes == 100 * MIB
    assert dict(config.max_concurrent_jobs) == {Role.ADMIN: 1000, Role.DEVELOPER: 10, Role.GUEST: 5}
    assert dict(config.max_job_bytes) == {
        Role.ADMIN: 10 * MIB,
        Role.DEVELOPER: 10 * MIB,
        Role.GUEST: MIB,
    }
    assert config.token_cache_seconds == 30 and config.download_url_seconds == 180
    assert config.upload_url_seconds == 3 * 3600 and config.max_attempts == 3


def test_flags_environment_and_precedence() -> None:
    config = load_config(
        [
            "--port-for-submission",
            "9000",
            "-t",
            "tokens:1234",
            "-k",
            "AKIA",
            "-s",
            "secret",
            "--region",
            "eu-west-1",
            "--job_bucket_name_key",
            "/b",
            "--job_table_name_key",
            "/t",
            "--backend_status_parameter_name",
            "/s",
            "--unify_backends",
            "--dev",
            "--endpoint",
            "http://localhost:4566",
            "--s3_endpoint",
            "http://localhost:4567",
        ],
        env={
            "SCHEDULER_PORT_FOR_SUBMISSION": "1",
            "SCHEDULER_MAX_CONCURRENT_JOBS_GUEST": "2",
            "SCHEDULER_MAX_JOB_BYTES_ADMIN": "99",
            "SCHEDULER_EXECUTION_MAX_WORKERS": "3",
        },
    )
    assert config.port_for_submission == 9000, "a flag beats its variable"
    assert config.address_to_token_database == "tokens:1234"
    assert (config.aws_access_key_id, config.aws_secret_access_key) == ("AKIA", "secret")
    assert (config.job_bucket_name_key, config.job_table_name_key) == ("/b", "/t")
    assert config.backend_status_parameter_name == "/s"
    assert config.unify_backends and config.dev
    assert config.max_concurrent_jobs[Role.GUEST] == 2
    assert config.max_concurrent_jobs[Role.DEVELOPER] == 10
    assert config.max_job_bytes[Role.ADMIN] == 99
    assert config.execution_max_workers == 3


def test_priority_policy_and_rate_limits_are_configurable() -> None:
    config = load_config(
        ["--priority-weight-role", "500", "--fair-share-half-life-seconds", "120"],
        env={"SCHEDULER_PRIORITY_MAX_WAIT_SECONDS": "600", "SCHEDULER_RATE_LIMIT_GUEST": "0"},
    )
    assert config.priority_weight_role == 500.0
    assert config.priority_weight_age == 2000.0, "the seed policy's default"
    assert config.fair_share_half_life_seconds == 120.0
    assert config.priority_max_wait_seconds == 600.0
    assert config.rate_limit_per_second[Role.GUEST] == 0.0, "0 = no limit"
    assert config.rate_limit_per_second[Role.DEVELOPER] == 100.0


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--port-for-submission", "http"], {}, "--port-for-submission"),
        (["--port-for-execution", "70000"], {}, "--port-for-execution"),
        ([], {"SCHEDULER_MAX_QUEUE_BYTES": "-1"}, "SCHEDULER_MAX_QUEUE_BYTES"),
        (
            [],
            {"SCHEDULER_MAX_CONCURRENT_JOBS_ADMIN": "many"},
            "SCHEDULER_MAX_CONCURRENT_JOBS_ADMIN",
        ),
        ([], {"SCHEDULER_SUBMISSION_MAX_WORKERS": "0"}, "SCHEDULER_SUBMISSION_MAX_WORKERS"),
        (["--s3_endpoint", "http://x"], {}, "--s3_endpoint"),
        ([], {"SCHEDULER_DEV": "maybe"}, "SCHEDULER_DEV"),
        ([], {"SCHEDULER_RATE_LIMIT_GUEST": "fast"}, "SCHEDULER_RATE_LIMIT_GUEST"),
        (["--priority-weight-age", "-5"], {}, "--priority-weight-age"),
        (["--priority-max-wait-seconds", "0"], {}, "--priority-max-wait-seconds"),
        (["--inline-input-bytes", "500000"], {}, "--inline-input-bytes"),
        (
            [],
            {"SCHEDULER_FINISHED_JOB_CACHE_ENTRIES": "-1"},
            "SCHEDULER_FINISHED_JOB_CACHE_ENTRIES",
        ),
    ],
)
def test_bad_values_name_the_flag_or_variable(
    argv: list[str], env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(argv, env=env)


def test_bad_value_stops_start_up_with_its_name() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "--lease-seconds", "soon"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--lease-seconds" in result.stderr and "soon" in result.stderr


def test_role_maximum_timeout_reads_its_variable() -> None:
    config = load_config([], {"SCHEDULER_MAX_TIMEOUT_SECONDS_GUEST": "120"})
    assert config.max_timeout_seconds[Role.GUEST] == 120
    assert config.max_timeout_seconds[Role.DEVELOPER] == 600


def test_message_limits_follow_the_largest_job_unless_set() -> None:
    env = {f"SCHEDULER_MAX_JOB_BYTES_{role}": str(MIB) for role in ("ADMIN", "DEVELOPER", "GUEST")}
    config = load_config([], env)
    assert config.submission_receive_bytes == config.execution_receive_bytes == MIB + 65536
    assert config.send_bytes >= 10 * MIB  # replies (listings, assignments) are not limited by it
    explicit = load_config([], {**env, "SCHEDULER_SUBMISSION_MAX_MESSAGE_LENGTH": str(3 * MIB)})
    assert explicit.submission_receive_bytes == 3 * MIB
    assert explicit.execution_receive_bytes == MIB + 65536
