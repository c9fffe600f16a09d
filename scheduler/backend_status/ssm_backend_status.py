"""The backend-status document read from an SSM parameter.

Operators edit the parameter (console, CLI, IaC); the scheduler re-reads it
every few seconds, so a maintenance window or a new backend needs no restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.backend_status.backend_status import BackendStatusTable, parse_backend_status
from scheduler.domain.errors import Unavailable

if TYPE_CHECKING:
    from mypy_boto3_ssm.client import SSMClient


class SsmBackendStatusSource:
    def __init__(self, client: SSMClient, parameter_name: str) -> None:
        self._client = client
        self._name = parameter_name

    def fetch(self) -> BackendStatusTable:
        """Unavailable when SSM is unreachable or the parameter is missing (an operator
        may be re-creating it; the cached document stays in use meanwhile)."""
        try:
            with translate_aws_errors("SSM"):
                response = self._client.get_parameter(Name=self._name, WithDecryption=True)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
                raise Unavailable(
                    f"the backend status parameter {self._name!r} does not exist; "
                    "create it (see --backend_status_parameter_name)"
                ) from error
            raise
        return parse_backend_status(response["Parameter"].get("Value", ""))
