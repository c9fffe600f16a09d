"""The backend-status source the scheduler runs with, chosen in one place."""

from __future__ import annotations

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.backend_status.backend_status import BackendStatusSource
from scheduler.backend_status.ssm_backend_status import SsmBackendStatusSource


def make_backend_status_source(settings: AwsSettings, parameter_name: str) -> BackendStatusSource:
    return SsmBackendStatusSource(make_client("ssm", settings), parameter_name)
