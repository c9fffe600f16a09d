"""The backend-status document: parsing, rendering, and reading it from SSM."""

from __future__ import annotations

import time

import pytest

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.backend_status.backend_status import (
    Availability,
    BackendAvailability,
    BackendStatusFormatError,
    BackendStatusTable,
    parse_backend_status,
    render_backend_status,
)
from scheduler.backend_status.ssm_backend_status import SsmBackendStatusSource
from scheduler.domain.errors import Unavailable
from scheduler.domain.jobs import Role

PARAMETER = "/berth-test/backend_status"
DOCUMENT = """
[backends.qpu.developer]
status = "maintenance"
description = "Recalibration until 14:00 UTC"

[backends.qpu.admin]
status = "available"

[backends."gpu-a100".guest]
status = "unavailable"
description = 'quotes " and \\ survive'
"""


def test_a_document_parses_into_availability_per_backend_and_role() -> None:
    table = parse_backend_status(DOCUMENT)
    assert table["qpu"][Role.DEVELOPER] == BackendAvailability(
        Availability.MAINTENANCE, "Recalibration until 14:00 UTC"
    )
    assert table["qpu"][Role.ADMIN] == BackendAvailability(Availability.AVAILABLE, "")
    assert Role.GUEST not in table["qpu"]
    assert table["gpu-a100"][Role.GUEST].description == 'quotes " and \\ survive'


def test_render_and_parse_round_trip() -> None:
    table: BackendStatusTable = {
        "qpu": {
            Role.ADMIN: BackendAvailability(Availability.AVAILABLE, 'say "hi" \\ bye'),
            Role.GUEST: BackendAvailability(Availability.UNAVAILABLE, ""),
        },
        "emulator.v2": {Role.EXECUTOR: BackendAvailability(Availability.MAINTENANCE, "ünïcode")},
    }
    assert parse_backend_status(render_backend_status(table)) == table
    assert parse_backend_status(render_backend_status({})) == {}


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ("[backends.qpu", "not valid TOML"),
        ("backends = 3", "must be a table"),
        ("[backends]\nqpu = 1", "table of roles"),
        ('[backends.qpu.wizard]\nstatus = "available"', "unknown role"),
        ("[backends.qpu]\ndeveloper = 2", "must be a table"),
        ('[backends.qpu.developer]\nstatus = "sleepy"', "status must be one of"),
        ("[backends.qpu.developer]\ndescription = 'no status'", "status must be one of"),
    ],
)
def test_a_malformed_document_is_refused_with_the_reason(document: str, complaint: str) -> None:
    with pytest.raises(BackendStatusFormatError, match=complaint):
        parse_backend_status(document)


def _put(document: str) -> None:
    make_client("ssm", AwsSettings()).put_parameter(
        Name=PARAMETER, Value=document, Type="String", Overwrite=True
    )


def test_the_ssm_source_reads_the_current_document(aws: None) -> None:
    source = SsmBackendStatusSource(make_client("ssm", AwsSettings()), PARAMETER)
    _put(DOCUMENT)
    assert source.fetch() == parse_backend_status(DOCUMENT)
    _put('[backends.new.guest]\nstatus = "available"')
    assert set(source.fetch()) == {"new"}


def test_a_malformed_parameter_is_a_format_error(aws: None) -> None:
    _put("[backends.qpu")
    source = SsmBackendStatusSource(make_client("ssm", AwsSettings()), PARAMETER)
    with pytest.raises(BackendStatusFormatError):
        source.fetch()


def test_a_missing_parameter_is_unavailable_and_named(aws: None) -> None:
    source = SsmBackendStatusSource(make_client("ssm", AwsSettings()), "/nowhere/status")
    with pytest.raises(Unavailable, match="'/nowhere/status'"):
        source.fetch()


def test_an_unreachable_ssm_is_unavailable_quickly() -> None:
    settings = AwsSettings(
        endpoint="http://127.0.0.1:1", connect_timeout_s=1, read_timeout_s=1, max_attempts=1
    )
    source = SsmBackendStatusSource(make_client("ssm", settings), PARAMETER)
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"SSM is unavailable \(unreachable\)"):
        source.fetch()
    assert time.monotonic() - started < 5
