"""The backend-status document read from (and edited in) an SSM parameter.

Operators edit the parameter (console, CLI, IaC, `python -m scheduler admin
set-backend`); the scheduler re-reads it every few seconds, so a maintenance
window or a new backend needs no restart.

SSM has no conditional put, but every put returns the version it created.
An edit reads version v and writes; when the write did not become v + 1,
another editor wrote in between and ours replaced theirs, so the edit is
made again on top of theirs (the version just before ours). No change is
lost; for a moment the document may lack the other editor's change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.backend_status.backend_status import BackendStatusTable, parse_backend_status
from scheduler.domain.errors import FailedPrecondition, Unavailable

if TYPE_CHECKING:
    from mypy_boto3_ssm.client import SSMClient
    from mypy_boto3_ssm.literals import ParameterTypeType

_EDIT_ATTEMPTS = 5


@dataclass(frozen=True)
class _Version:
    text: str
    number: int
    kind: ParameterTypeType


class SsmBackendStatusSource:
    def __init__(self, client: SSMClient, parameter_name: str) -> None:
        self._client = client
        self._name = parameter_name

    def fetch(self) -> BackendStatusTable:
        """Unavailable when SSM is unreachable or the parameter is missing (an operator
        may be re-creating it; the cached document stays in use meanwhile)."""
        return parse_backend_status(self._read(self._name).text)

    def edit(self, change: Callable[[str], str | None]) -> str:
        base = self._read(self._name)
        latest = base.number
        for _ in range(_EDIT_ATTEMPTS):
            text = change(base.text)
            if text is None:
                return base.text
            written = self._write(text, base.kind)
            if written == latest + 1:
                return text
            base = self._read(f"{self._name}:{written - 1}")
            latest = written
        raise Unavailable(
            f"the backend status parameter {self._name!r} kept changing during the edit; retry"
        )

    def _write(self, text: str, kind: ParameterTypeType) -> int:
        try:
            with translate_aws_errors("SSM"):
                response = self._client.put_parameter(
                    Name=self._name, Value=text, Type=kind, Overwrite=True
                )
        except ClientError as error:  # e.g. the document outgrew the parameter's tier
            details = error.response.get("Error", {})
            raise FailedPrecondition(
                f"SSM refused to write the backend status parameter {self._name!r}: "
                f"{details.get('Code', '')} {details.get('Message', '')}".rstrip()
            ) from error
        return response["Version"]

    def _read(self, selector: str) -> _Version:
        try:
            with translate_aws_errors("SSM"):
                parameter = self._client.get_parameter(Name=selector, WithDecryption=True)[
                    "Parameter"
                ]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("ParameterNotFound", "ParameterVersionNotFound"):
                raise Unavailable(
                    f"the backend status parameter {selector!r} does not exist; "
                    "create it (see --backend_status_parameter_name)"
                ) from error
            raise
        return _Version(
            parameter.get("Value", ""), parameter.get("Version", 0), parameter.get("Type", "String")
        )
