"""Editing the backend-status document: what a change touches, and edits racing in SSM."""

from __future__ import annotations

import tomllib
import uuid

import boto3
import pytest

from scheduler.backend_status.backend_status import (
    Availability,
    BackendAvailability,
    BackendStatusFormatError,
    parse_backend_status,
)
from scheduler.backend_status.ssm_backend_status import SsmBackendStatusSource
from scheduler.backend_status.status_change import StatusChange
from scheduler.domain.errors import InvalidArgument, Unavailable
from scheduler.domain.jobs import Role

DOCUMENT = """
# hand-written by an operator
owner = "lab-ops"

[backends.qpu.admin]
status = "available"
description = ""
ticket = "OPS-12"

[backends.qpu.developer]
status = "available"
description = ""

[backends.emulator.developer]
status = "available"
description = "simulator"
"""


def change(backend: str = "qpu", role: Role | None = None, **kwargs: object) -> StatusChange:
    values: dict[str, object] = {
        "availability": Availability.MAINTENANCE,
        "description": "Recalibration until 14:00 UTC",
        **kwargs,
    }
    return StatusChange(backend=backend, role=role, **values)  # type: ignore[arg-type]


def test_all_roles_means_the_roles_the_backend_lists_and_the_rest_is_kept() -> None:
    text = change().apply(DOCUMENT)
    assert text is not None
    table = parse_backend_status(text)
    maintenance = BackendAvailability(Availability.MAINTENANCE, "Recalibration until 14:00 UTC")
    assert table["qpu"] == {Role.ADMIN: maintenance, Role.DEVELOPER: maintenance}
    assert table["emulator"] == parse_backend_status(DOCUMENT)["emulator"]
    document = tomllib.loads(text)
    assert document["owner"] == "lab-ops"
    assert document["backends"]["qpu"]["admin"]["ticket"] == "OPS-12"


def test_one_role_is_changed_alone_and_may_be_new_under_the_backend() -> None:
    text = change(role=Role.GUEST, availability=Availability.AVAILABLE, description="").apply(
        DOCUMENT
    )
    assert text is not None
    table = parse_backend_status(text)
    assert table["qpu"][Role.GUEST] == BackendAvailability(Availability.AVAILABLE, "")
    assert table["qpu"][Role.DEVELOPER] == parse_backend_status(DOCUMENT)["qpu"][Role.DEVELOPER]


def test_a_change_the_document_already_holds_is_none() -> None:
    assert change(availability=Availability.AVAILABLE, description="").apply(DOCUMENT) is None


def test_an_unknown_backend_is_refused_unless_adding_is_asked_for() -> None:
    with pytest.raises(InvalidArgument, match=r"unknown backend 'gpu' \(known: emulator, qpu\)"):
        change("gpu").apply(DOCUMENT)
    text = change("gpu", add_backend=True).apply(DOCUMENT)
    assert text is not None
    assert set(parse_backend_status(text)["gpu"]) == {Role.ADMIN, Role.DEVELOPER, Role.GUEST}
    assert change("gpu", add_backend=True).apply("") is not None  # an empty document too


def test_backend_names_that_need_quoting_survive() -> None:
    text = change("ibm.eagle-1", add_backend=True).apply(DOCUMENT)
    assert text is not None
    assert "ibm.eagle-1" in parse_backend_status(text)


def test_a_malformed_document_is_not_rewritten() -> None:
    with pytest.raises(BackendStatusFormatError):
        change().apply('[backends.qpu.admin]\nstatus = "sunny"\n')


# --- the SSM parameter -------------------------------------------------------------


@pytest.fixture
def parameter(aws: None) -> tuple[SsmBackendStatusSource, str]:
    name = f"/t{uuid.uuid4().hex[:8]}/backend_status"
    boto3.client("ssm").put_parameter(Name=name, Value=DOCUMENT, Type="String")
    return SsmBackendStatusSource(boto3.client("ssm"), name), name


def _value(name: str) -> str:
    return str(boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])


def test_edit_writes_the_change_and_a_no_op_writes_nothing(
    parameter: tuple[SsmBackendStatusSource, str],
) -> None:
    source, name = parameter
    written = source.edit(change().apply)
    assert _value(name) == written
    assert source.fetch()["qpu"][Role.ADMIN].availability is Availability.MAINTENANCE
    version = boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Version"]
    assert source.edit(change().apply) == written
    assert boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Version"] == version


def test_an_edit_racing_another_editor_keeps_both_changes(
    parameter: tuple[SsmBackendStatusSource, str],
) -> None:
    """The other editor writes between our read and our write: our write replaces
    theirs, is detected by its version, and is made again on top of theirs."""
    source, name = parameter
    theirs = change("emulator", Role.DEVELOPER, availability=Availability.UNAVAILABLE)
    ours = change("qpu", Role.ADMIN)
    calls: list[str] = []

    def our_change(text: str) -> str | None:
        if not calls:
            other = theirs.apply(text)
            assert other is not None
            boto3.client("ssm").put_parameter(Name=name, Value=other, Overwrite=True)
        calls.append(text)
        return ours.apply(text)

    source.edit(our_change)
    assert len(calls) == 2
    table = parse_backend_status(_value(name))
    assert table["qpu"][Role.ADMIN].availability is Availability.MAINTENANCE
    assert table["emulator"][Role.DEVELOPER].availability is Availability.UNAVAILABLE


def test_edit_of_a_missing_parameter_is_unavailable_and_a_refused_change_writes_nothing(
    parameter: tuple[SsmBackendStatusSource, str],
) -> None:
    source, name = parameter
    with pytest.raises(Unavailable, match="does not exist"):
        SsmBackendStatusSource(boto3.client("ssm"), name + "-gone").edit(change().apply)
    with pytest.raises(InvalidArgument):
        source.edit(change("nope").apply)
    assert _value(name) == DOCUMENT
