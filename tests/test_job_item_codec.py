"""The item layout: what DynamoDB must see has its own attribute, the rest is packed."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from scheduler.domain.jobs import JobRecord, JobStatus
from scheduler.job_store.job_item_codec import JobItemFormatError, item_to_job, job_to_item
from tests.job_records import NOW, new_job


def finished_job_with_every_field_set() -> JobRecord:
    return replace(
        new_job(parameters={"shots": "1", "quote": 'a"b', "empty": ""}),
        status=JobStatus.COMPLETED,
        attempt=2,
        tried_agents=["agent-1", "agent-2"],
        detail="ok",
        dequeued_at=NOW + 0.1,
        execution_started_at=NOW + 0.2,
        execution_finished_at=NOW + 1 / 3,
        finished_at=NOW + 0.4,
        actual_backend="qpu-2",
        agent_version="agent 1",
        runner_version="runner 2",
        result_raw_bytes=10,
        result_encoded_bytes=5,
        log_bytes=3,
        burst=1 / 7,
        inline_input=b"\x00\xffprogram",
    )


def test_every_field_round_trips_exactly() -> None:
    job = finished_job_with_every_field_set()
    assert item_to_job(job_to_item(job)) == job


def test_keys_conditions_indexes_and_ttl_have_attributes_of_their_own() -> None:
    item = job_to_item(new_job())
    for name in ("job_id", "owner", "backend", "status", "queued_at", "submitted_at"):
        assert name in item
    for name in ("submitted_day", "job_expiry", "attempt", "lease_holder", "lease_expires_at"):
        assert name in item
    assert item["job_expiry"] == {"N": str(new_job().job_expiry)}
    assert "outcome" not in item and "inline_input" not in item  # nothing to say yet
    assert len(item) < 20


def test_a_finished_jobs_outcome_overrules_what_its_attributes_held_while_it_ran() -> None:
    job = finished_job_with_every_field_set()
    item: dict[str, Any] = dict(job_to_item(job))
    item["detail"] = {"S": "requeued by admin root"}  # as a requeue left it, before the end
    item["dequeued_at"] = {"N": "1"}  # the claim's time; the agent reported its own
    assert item_to_job(item) == job


def test_reading_ignores_what_a_newer_version_added_and_defaults_what_it_lacks() -> None:
    job = new_job()
    item: dict[str, Any] = dict(job_to_item(job))
    spec = json.loads(item["spec"]["S"])
    del spec["idempotency_key"]
    spec["added_later"] = [1, 2]
    item["spec"] = {"S": json.dumps(spec)}
    item["another_new_attribute"] = {"S": "x"}
    assert item_to_job(item) == replace(job, idempotency_key="")


@pytest.mark.parametrize(
    "spoil",
    [
        lambda item: item.pop("spec"),
        lambda item: item.update(spec={"S": "{not json"}),
        lambda item: item.update(spec={"S": json.dumps({"n_shots": "many"})}),
        lambda item: item.update(status={"S": "LOST"}),
    ],
)
def test_an_item_that_cannot_be_a_job_is_refused(spoil: Callable[[dict[str, Any]], object]) -> None:
    item: dict[str, Any] = dict(job_to_item(new_job()))
    spoil(item)
    with pytest.raises(JobItemFormatError):
        item_to_job(item)
