"""The backend-status document: parsing, rendering, and the BackendStatusSource/Editor
contract over each implementation (SSM on in-process moto, in memory)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.backend_status.backend_status import (
    Availability,
    BackendAvailability,
    BackendStatusEditor,
    BackendStatusFormatError,
    BackendStatusSource,
    BackendStatusTable,
    parse_backend_status,
    render_backend_status,
)
from scheduler.backend_status.memory_backend_status import MemoryBackendStatusSource
from scheduler.backend_status.ssm_backend_status import SsmBackendStatusSource
from scheduler.backend_status.status_change import StatusChange
from scheduler.domain.errors import InvalidArgument, Unavailable
from scheduler.domain.jobs import Role

if TYPE_CHECKING:
    from mypy_boto3_ssm.type_defs import ParameterTypeDef

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


@dataclass
class StatusWorld:
    """A source and an operator's hand on the document."""

    source: BackendStatusSource
    editor: BackendStatusEditor
    put: Callable[[str], None]
    value: Callable[[], str]
    version: Callable[[], int]


def memory_world() -> StatusWorld:
    source = MemoryBackendStatusSource()
    return StatusWorld(source, source, source.set, lambda: source.text, lambda: source.version)


def ssm_world() -> StatusWorld:
    ssm = make_client("ssm", AwsSettings())
    name = f"/t{uuid.uuid4().hex[:8]}/backend_status"

    def put(document: str) -> None:
        ssm.put_parameter(Name=name, Value=document, Type="String", Overwrite=True)

    def parameter() -> ParameterTypeDef:
        return ssm.get_parameter(Name=name)["Parameter"]

    source = SsmBackendStatusSource(ssm, name)
    return StatusWorld(
        source,
        source,
        put,
        lambda: parameter().get("Value", ""),
        lambda: parameter().get("Version", 0),
    )


@pytest.fixture(params=["memory", "ssm"])
def world(request: pytest.FixtureRequest) -> StatusWorld:
    if request.param == "ssm":
        request.getfixturevalue("aws")
        return ssm_world()
    return memory_world()


def test_the_source_reads_the_current_document(world: StatusWorld) -> None:
    world.put(DOCUMENT)
    assert world.source.fetch() == parse_backend_status(DOCUMENT)
    world.put('[backends.new.guest]\nstatus = "available"')
    assert set(world.source.fetch()) == {"new"}


def test_a_malformed_document_is_a_format_error(world: StatusWorld) -> None:
    world.put("[backends.qpu")
    with pytest.raises(BackendStatusFormatError):
        world.source.fetch()


def _maintenance(backend: str, role: Role) -> StatusChange:
    return StatusChange(backend, role, Availability.MAINTENANCE, "Recalibration until 14:00 UTC")


def test_edit_writes_the_change_and_a_no_op_writes_nothing(world: StatusWorld) -> None:
    world.put(DOCUMENT)
    written = world.editor.edit(_maintenance("qpu", Role.ADMIN).apply)
    assert world.value() == written
    assert world.source.fetch()["qpu"][Role.ADMIN].availability is Availability.MAINTENANCE
    version = world.version()
    assert world.editor.edit(_maintenance("qpu", Role.ADMIN).apply) == written
    assert world.version() == version


def test_an_edit_racing_another_editor_keeps_both_changes(world: StatusWorld) -> None:
    """The other editor writes between our read and our write: our change is made
    again on top of theirs."""
    world.put(DOCUMENT)
    theirs = StatusChange("gpu-a100", Role.GUEST, Availability.AVAILABLE, "back")
    calls: list[str] = []

    def our_change(text: str) -> str | None:
        if not calls:
            other = theirs.apply(text)
            assert other is not None
            world.put(other)
        calls.append(text)
        return _maintenance("qpu", Role.ADMIN).apply(text)

    world.editor.edit(our_change)
    assert len(calls) == 2
    table = parse_backend_status(world.value())
    assert table["qpu"][Role.ADMIN].availability is Availability.MAINTENANCE
    assert table["gpu-a100"][Role.GUEST].availability is Availability.AVAILABLE


def test_a_refused_change_writes_nothing(world: StatusWorld) -> None:
    world.put(DOCUMENT)
    with pytest.raises(InvalidArgument):
        world.editor.edit(_maintenance("nope", Role.ADMIN).apply)
    assert world.value() == DOCUMENT


# --- SSM only --------------------------------------------------------------------------


def test_a_missing_parameter_is_unavailable_and_named(aws: None) -> None:
    source = SsmBackendStatusSource(make_client("ssm", AwsSettings()), "/nowhere/status")
    with pytest.raises(Unavailable, match="'/nowhere/status'"):
        source.fetch()
    with pytest.raises(Unavailable, match="does not exist"):
        source.edit(_maintenance("qpu", Role.ADMIN).apply)


def test_an_unreachable_ssm_is_unavailable_quickly() -> None:
    settings = AwsSettings(
        endpoint="http://127.0.0.1:1", connect_timeout_s=1, read_timeout_s=1, max_attempts=1
    )
    source = SsmBackendStatusSource(make_client("ssm", settings), PARAMETER)
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"SSM is unavailable \(unreachable\)"):
        source.fetch()
    assert time.monotonic() - started < 5
