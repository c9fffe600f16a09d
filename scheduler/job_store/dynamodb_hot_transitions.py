"""Claim and finish: the two writes every job makes, so they say as little as they can.

Each takes the record the caller already knows, if any (the one it queued,
the one it claimed). The write is then also conditional on what identifies
that record, so that the record after it is the known one with this write's
changes, derived here instead of sent back (ReturnValues NONE: no item to
serialise on DynamoDB's side and parse on ours):

- claim: a QUEUED job with attempt k and queued_at t is one record. Only a
  claim changes a QUEUED job (requeues and the operator's transitions start
  from RUNNING, a release from HELD and it sets queued_at anew), and every
  claim moves the attempt.
- finish: a RUNNING job held by this agent at attempt k, with this cancel
  flag, is one record up to its lease expiry, which finish clears anyway.
  (Only heartbeats and cancel requests change a RUNNING job without moving
  its status or attempt.)

A stale known record costs one more round trip: the failed condition hands
back the record as it stands, and the write is tried again with that one.
Without a known record the write asks for the record after it (ALL_NEW).
A claim of a known record also writes its new attempt and tried agents as
values, not as expressions over the stored ones: the same record after it,
in an expression the emulator parses faster (each claim is on the dispatch path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from scheduler.domain.jobs import Completion, JobRecord, JobStatus
from scheduler.job_store.dynamodb_conditional_update import Update, conditional_update
from scheduler.job_store.job_item_codec import (
    OUTCOME,
    item_to_job,
    reported_outcome_attribute,
)
from scheduler.job_store.record_changes import CLEARED_LEASE, claimed, finished, holds_lease

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_KNOWN_TRIES = 2
# The lease's credential is this one, or none was recorded (a lease an older version took).
HELD_UNDER_CREDENTIAL = (
    "(#lease_credential IN (:credential, :unbound) OR attribute_not_exists(#lease_credential))"
)


def credential_values(credential: str) -> dict[str, object]:
    """The values HELD_UNDER_CREDENTIAL names."""
    return {":credential": credential, ":unbound": ""}


def claim_job(
    client: DynamoDBClient,
    table: str,
    job_id: str,
    agent_id: str,
    lease_expires_at: float,
    now: float,
    known: JobRecord | None,
    *,
    credential: str = "",
) -> JobRecord | None:
    lease = {
        "status": JobStatus.RUNNING,
        "lease_holder": agent_id,
        "lease_credential": credential,
        "lease_expires_at": lease_expires_at,
        "dequeued_at": now,
    }

    def update(known: JobRecord | None) -> Update:
        # As few clauses as the contract allows: a QUEUED job has no cancel request
        # to clear (see `requeue`), and every record is created with `tried_agents`.
        condition = "#status = :expected_status"
        values: dict[str, object] = {":expected_status": JobStatus.QUEUED}
        if known is None:
            return Update(
                lease,
                condition,
                {**values, ":one": 1, ":agent": [agent_id]},
                raw=(
                    "#attempt = #attempt + :one",
                    "#result_attempt = #attempt + :one",
                    "#tried_agents = list_append(#tried_agents, :agent)",
                ),
            )
        # The known record is the stored one (see above): the claim writes what it derives.
        after = derive(known)
        condition += " AND #attempt = :attempt AND #queued_at = :queued_at"
        values[":attempt"] = known.attempt
        values[":queued_at"] = known.queued_at
        moved = {
            "attempt": after.attempt,
            "result_attempt": after.result_attempt,
            "tried_agents": after.tried_agents,
        }
        return Update({**lease, **moved}, condition, values)

    def derive(known: JobRecord) -> JobRecord:
        return claimed(known, agent_id, credential, lease_expires_at, now)

    def queued(job: JobRecord) -> bool:
        return job.status is JobStatus.QUEUED

    return _write(client, table, job_id, known, queued, update, derive)


def finish_job(
    client: DynamoDBClient,
    table: str,
    job_id: str,
    agent_id: str,
    completion: Completion,
    job_expiry: int,
    known: JobRecord | None,
    *,
    credential: str = "",
    attempt: int | None = None,
) -> JobRecord | None:
    # Five clauses: the agent's report is one attribute (see job_item_codec.py).
    changes: dict[str, object] = {
        "status": completion.status,
        "job_expiry": job_expiry,
        **CLEARED_LEASE,
    }

    def update(known: JobRecord | None) -> Update:
        condition = "#status = :expected_status AND #lease_holder = :holder AND "
        condition += HELD_UNDER_CREDENTIAL
        values: dict[str, object] = {
            ":expected_status": JobStatus.RUNNING,
            ":holder": agent_id,
            **credential_values(credential),
        }
        if known is not None:
            condition += " AND #cancel_requested = :cancel"
            values[":cancel"] = known.cancel_requested
        expected_attempt = known.attempt if attempt is None and known is not None else attempt
        if expected_attempt is not None:
            condition += " AND #attempt = :attempt"
            values[":attempt"] = expected_attempt
        outcome = reported_outcome_attribute(completion)
        return Update(changes, condition, values, encoded={OUTCOME: outcome})

    def derive(known: JobRecord) -> JobRecord:
        return finished(known, completion, job_expiry)

    def held(job: JobRecord) -> bool:
        return holds_lease(job, agent_id, credential) and attempt in (None, job.attempt)

    return _write(client, table, job_id, known, held, update, derive)


def _write(
    client: DynamoDBClient,
    table: str,
    job_id: str,
    known: JobRecord | None,
    applies: Callable[[JobRecord], bool],
    update: Callable[[JobRecord | None], Update],
    derive: Callable[[JobRecord], JobRecord],
) -> JobRecord | None:
    """The write, told `known` while it is one the write `applies` to."""
    for _ in range(_KNOWN_TRIES):
        if known is None or not applies(known):
            break
        outcome = conditional_update(
            client, table, job_id, update(known), return_new=False, current_on_failure=True
        )
        if outcome.written:
            return derive(known)
        if outcome.item is None:
            return None  # no such job
        known = item_to_job(outcome.item)
        if not applies(known):
            return None
    outcome = conditional_update(client, table, job_id, update(None))
    return item_to_job(outcome.item) if outcome.written and outcome.item else None
