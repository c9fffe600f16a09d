"""Editing the backend-status document: what a change touches and what it keeps.

How a source applies an edit (racing editors, no-op edits) is the contract
tested in test_backend_status_source.py.
"""

from __future__ import annotations

import tomllib

import pytest

from scheduler.backend_status.backend_status import (
    Availability,
    BackendAvailability,
    BackendStatusFormatError,
    parse_backend_status,
)
from scheduler.backend_status.status_change import StatusChange
from scheduler.domain.errors import InvalidArgument
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


def test_without_a_description_each_entry_keeps_its_text_and_an_empty_one_clears_it() -> None:
    text = change("emulator", availability=Availability.MAINTENANCE, description=None).apply(
        DOCUMENT
    )
    assert text is not None
    kept = parse_backend_status(text)["emulator"][Role.DEVELOPER]
    assert kept == BackendAvailability(Availability.MAINTENANCE, "simulator")
    cleared = change("emulator", availability=Availability.MAINTENANCE, description="").apply(text)
    assert cleared is not None
    assert parse_backend_status(cleared)["emulator"][Role.DEVELOPER].description == ""
