"""The job store on DynamoDB: every transition is one conditional UpdateItem.

The condition carries the expected status (and lease holder, attempt, lease
expiry where the contract says so); DynamoDB evaluates it atomically with
the write, so two replicas or a late agent racing for the same job cannot
both win. A failed condition is an answer (None), not an error.

Reads of one job are strongly consistent. Listings and `iter_by_status` read
global secondary indexes, which are eventually consistent: a job written a
moment ago may be missing from them, or show its previous status, for a
fraction of a second. Callers that act on a listed job re-read it with `get`
or act through a conditional transition.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.aws.table_definitions import (
    DAY_INDEX,
    JOB_ID,
    OWNER_INDEX,
    STATUS_INDEX,
    SUBMITTED_DAY,
)
from scheduler.domain.errors import Unavailable
from scheduler.domain.jobs import Completion, JobRecord, JobStatus
from scheduler.job_store.dynamodb_batch_get import batch_get_items
from scheduler.job_store.dynamodb_batch_write import put_items
from scheduler.job_store.dynamodb_conditional_update import Update, conditional_update
from scheduler.job_store.dynamodb_hot_transitions import (
    HELD_UNDER_CREDENTIAL,
    claim_job,
    credential_values,
    finish_job,
)
from scheduler.job_store.dynamodb_index_reader import IndexQuery, JobIndexReader, error_code
from scheduler.job_store.job_item_codec import (
    OUTCOME,
    item_to_job,
    job_to_item,
    outcome_attribute,
    utc_day,
)
from scheduler.job_store.job_store import JobPage
from scheduler.job_store.page_tokens import (
    Position,
    all_page_token,
    check_page_size,
    owner_page_token,
    parse_all_page_token,
    parse_owner_page_token,
)
from scheduler.job_store.record_changes import CLEARED_LEASE, RELEASED_ATTEMPT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from scheduler.job_store.job_item_codec import Item

_SERVICE = "DynamoDB"
_DAY_S = 86_400.0
_CLOCK_SKEW_S = 300.0  # another replica's clock may be ahead: look a little into "tomorrow"

_IN_STATUS = "#status = :expected_status"
_HELD = "#status = :expected_status AND #lease_holder = :holder AND " + HELD_UNDER_CREDENTIAL
_NOT_STARTED = "#status IN (:expected_status, :held, :waiting)"
_QUEUED_OR_WAITING = "#status IN (:expected_status, :waiting)"
_RUNNING_ATTEMPT = "#status = :expected_status AND #attempt = :attempt"
_LEASE_EXPIRED = " AND #lease_expires_at < :now"
_PAGE_ATTEMPTS = 3
_PAGE_RETRY_S = 0.5


class DynamoDbJobStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        retention_days: int = 31,
        clock: Callable[[], float] = time.time,
        query_batch: int = 100,
        usage_page: int = 1000,
        status_page: int = 250,
    ) -> None:
        """`retention_days` bounds how far back the admin listing walks (job TTL).

        `query_batch` is how many items one Query evaluates while a filtered
        listing fills its page: larger costs read capacity, smaller round trips.
        `usage_page`: how many items one Query of a usage report reads.
        `status_page`: how many records one Query of `iter_by_status` reads. A
        1 MB page holds a store that serves one request at a time (the emulator)
        for seconds, heartbeats waiting behind it; a few more round trips do not.
        """
        self._client = client
        self._table = table_name
        self._retention_days = retention_days
        self._clock = clock
        self._indexes = JobIndexReader(client, table_name, query_batch)
        self._usage_page = usage_page
        self._status_page = status_page

    # --- single jobs -------------------------------------------------------

    def create(self, job: JobRecord) -> bool:
        try:
            with translate_aws_errors(_SERVICE):
                self._client.put_item(
                    TableName=self._table,
                    Item=job_to_item(job),
                    ConditionExpression="attribute_not_exists(#job_id)",
                    ExpressionAttributeNames={"#job_id": JOB_ID},
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def create_many(self, jobs: Sequence[JobRecord]) -> set[str]:
        return put_items(self._client, self._table, [job_to_item(job) for job in jobs])

    def get(self, job_id: str) -> JobRecord | None:
        with translate_aws_errors(_SERVICE):
            response = self._client.get_item(
                TableName=self._table, Key={JOB_ID: {"S": job_id}}, ConsistentRead=True
            )
        item = response.get("Item")
        return item_to_job(item) if item else None

    def get_many(self, job_ids: Collection[str]) -> dict[str, JobRecord]:
        items = batch_get_items(self._client, self._table, job_ids)
        return {job.job_id: job for job in map(item_to_job, items)}

    def claim(
        self,
        job_id: str,
        agent_id: str,
        lease_expires_at: float,
        now: float,
        *,
        known: JobRecord | None = None,
        credential: str = "",
    ) -> JobRecord | None:
        return claim_job(
            self._client,
            self._table,
            job_id,
            agent_id,
            lease_expires_at,
            now,
            known,
            credential=credential,
        )

    def renew_lease(
        self, job_id: str, agent_id: str, lease_expires_at: float, *, credential: str = ""
    ) -> JobRecord | None:
        return self._transition(
            job_id,
            {"lease_expires_at": lease_expires_at},
            _HELD,
            {
                ":expected_status": JobStatus.RUNNING,
                ":holder": agent_id,
                **credential_values(credential),
            },
        )

    def finish(
        self,
        job_id: str,
        agent_id: str,
        completion: Completion,
        job_expiry: int,
        *,
        known: JobRecord | None = None,
        credential: str = "",
        attempt: int | None = None,
    ) -> JobRecord | None:
        if not completion.status.terminal:
            raise ValueError(f"finish needs a terminal status, not {completion.status}")
        return finish_job(
            self._client,
            self._table,
            job_id,
            agent_id,
            completion,
            job_expiry,
            known,
            credential=credential,
            attempt=attempt,
        )

    def cancel_queued(
        self, job_id: str, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        return self._end_queued(job_id, JobStatus.CANCELLED, detail, now, job_expiry)

    def request_cancel(self, job_id: str) -> JobRecord | None:
        return self._transition(
            job_id,
            {"cancel_requested": True},
            _IN_STATUS,
            {":expected_status": JobStatus.RUNNING},
        )

    def requeue(
        self, job_id: str, attempt: int, now: float, *, logged: str = ""
    ) -> JobRecord | None:
        # Clears a cancel request, so that `claim` need not: a requeued job is claimed anew.
        return self._transition(
            job_id,
            {"status": JobStatus.QUEUED, "cancel_requested": False, **RELEASED_ATTEMPT},
            _RUNNING_ATTEMPT + _LEASE_EXPIRED,
            {":expected_status": JobStatus.RUNNING, ":attempt": attempt, ":now": now},
            logged=logged,
        )

    def requeue_running(
        self, job_id: str, attempt: int, detail: str, *, logged: str = ""
    ) -> JobRecord | None:
        return self._transition(
            job_id,
            {"status": JobStatus.QUEUED, "detail": detail, **RELEASED_ATTEMPT},
            _RUNNING_ATTEMPT + " AND #cancel_requested = :no_cancel",
            {":expected_status": JobStatus.RUNNING, ":attempt": attempt, ":no_cancel": False},
            logged=logged,
        )

    def retry_failed(
        self,
        job_id: str,
        agent_id: str,
        detail: str,
        logged: str,
        *,
        credential: str = "",
        attempt: int | None = None,
    ) -> JobRecord | None:
        condition = _HELD
        values: dict[str, object] = {
            ":expected_status": JobStatus.RUNNING,
            ":holder": agent_id,
            **credential_values(credential),
        }
        if attempt is not None:
            condition += " AND #attempt = :attempt"
            values[":attempt"] = attempt
        return self._transition(
            job_id,
            {
                "status": JobStatus.QUEUED,
                "detail": detail,
                "cancel_requested": False,
                **RELEASED_ATTEMPT,
            },
            condition,
            values,
            logged=logged,
        )

    def fail_queued(
        self, job_id: str, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        return self._end_queued(job_id, JobStatus.FAILED, detail, now, job_expiry)

    def _end_queued(
        self, job_id: str, status: JobStatus, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        return self._transition(
            job_id,
            {"status": status, "job_expiry": job_expiry},
            _NOT_STARTED,
            {
                ":expected_status": JobStatus.QUEUED,
                ":held": JobStatus.HELD,
                ":waiting": JobStatus.WAITING,
            },
            ended=(detail, now),
        )

    def hold_queued(self, job_id: str, detail: str) -> JobRecord | None:
        return self._transition(
            job_id,
            {"status": JobStatus.HELD, "detail": detail},
            _QUEUED_OR_WAITING,
            {":expected_status": JobStatus.QUEUED, ":waiting": JobStatus.WAITING},
        )

    def release_held(
        self, job_id: str, detail: str, now: float, *, waiting: bool = False
    ) -> JobRecord | None:
        status = JobStatus.WAITING if waiting else JobStatus.QUEUED
        return self._transition(
            job_id,
            {"status": status, "detail": detail, "queued_at": now},
            _IN_STATUS,
            {":expected_status": JobStatus.HELD},
        )

    def promote_waiting(self, job_id: str, now: float) -> JobRecord | None:
        return self._transition(
            job_id,
            {"status": JobStatus.QUEUED, "detail": "", "queued_at": now},
            _IN_STATUS,
            {":expected_status": JobStatus.WAITING},
        )

    def cancel_waiting(
        self, job_id: str, detail: str, now: float, job_expiry: int
    ) -> JobRecord | None:
        return self._transition(
            job_id,
            {"status": JobStatus.CANCELLED, "job_expiry": job_expiry},
            _IN_STATUS,
            {":expected_status": JobStatus.WAITING},
            ended=(detail, now),
        )

    def end_running(
        self,
        job_id: str,
        attempt: int,
        status: JobStatus,
        detail: str,
        now: float,
        job_expiry: int,
        *,
        require_expired_lease: bool,
    ) -> JobRecord | None:
        if status not in (JobStatus.FAILED, JobStatus.TIMEOUT):
            raise ValueError(f"end_running ends a job FAILED or TIMEOUT, not {status}")
        condition = _RUNNING_ATTEMPT
        values: dict[str, object] = {":expected_status": JobStatus.RUNNING, ":attempt": attempt}
        if require_expired_lease:
            condition += _LEASE_EXPIRED
            values[":now"] = now
        return self._transition(
            job_id,
            {"status": status, "job_expiry": job_expiry, **CLEARED_LEASE},
            condition,
            values,
            ended=(detail, now),
        )

    def _transition(
        self,
        job_id: str,
        assignments: dict[str, object],
        condition: str,
        condition_values: dict[str, object],
        *,
        ended: tuple[str, float] | None = None,
        logged: str = "",
    ) -> JobRecord | None:
        """Apply the update if `condition` holds; the record after the write, else None.

        `ended`: (detail, finished_at) of a job this write ends, its outcome.
        `logged`: a line appended to the attempt log.
        """
        encoded = {OUTCOME: outcome_attribute(*ended)} if ended else None
        raw: tuple[str, ...] = ()
        if logged:
            raw = ("#attempt_log = list_append(if_not_exists(#attempt_log, :no_log), :logged)",)
            condition_values = {**condition_values, ":no_log": [], ":logged": [logged]}
        update = Update(assignments, condition, condition_values, raw=raw, encoded=encoded)
        outcome = conditional_update(self._client, self._table, job_id, update)
        return item_to_job(outcome.item) if outcome.written and outcome.item else None

    # --- listings (global secondary indexes: eventually consistent) --------

    def iter_by_status(self, status: JobStatus) -> Iterator[JobRecord]:
        query = IndexQuery(STATUS_INDEX, "status", "queued_at", str(status))
        start: Item | None = None
        while True:
            items, start = self._read_page_retrying(query, start)
            yield from (item_to_job(item) for item in items)
            if start is None:
                return

    def _read_page_retrying(
        self, query: IndexQuery, start: Item | None
    ) -> tuple[list[Item], Item | None]:
        """One page of `iter_by_status`, asked again if it times out: a listing of thousands
        of records (a restore) must not start over for one slow page."""
        for attempt in range(1, _PAGE_ATTEMPTS):
            try:
                return self._indexes.read(query, start, limit=self._status_page)
            except Unavailable:
                time.sleep(_PAGE_RETRY_S * attempt)
        return self._indexes.read(query, start, limit=self._status_page)

    def ids_by_status(self, status: JobStatus) -> Iterator[str]:
        query = IndexQuery(STATUS_INDEX, "status", "queued_at", str(status))
        start: Item | None = None
        while True:
            items, start = self._indexes.read(query, start, ids_only=True)
            yield from (item[JOB_ID].get("S", "") for item in items)
            if start is None:
                return

    def list_for_owner(
        self,
        owner: str,
        *,
        status: JobStatus | None,
        backend: str | None,
        page_size: int,
        page_token: str,
    ) -> JobPage:
        check_page_size(page_size)
        query = IndexQuery(OWNER_INDEX, "owner", "submitted_at", owner, status, backend)
        start = None
        if page_token:
            start = _start_key(query, parse_owner_page_token(page_token, owner))
        items, next_key = self._indexes.fill_page(query, start, page_size)
        token = owner_page_token(owner, _position(next_key)) if next_key else ""
        return _page(items, token)

    def list_all(
        self,
        *,
        status: JobStatus | None,
        backend: str | None,
        page_size: int,
        page_token: str,
    ) -> JobPage:
        """Walks the day index from today back `retention_days`, one Query per day at least."""
        check_page_size(page_size)
        now = self._clock()
        oldest = utc_day(now - self._retention_days * _DAY_S)
        day = utc_day(now + _CLOCK_SKEW_S)
        position: Position | None = None
        if page_token:
            day, position = parse_all_page_token(page_token)
        collected: list[Item] = []
        while day >= oldest:
            query = IndexQuery(DAY_INDEX, SUBMITTED_DAY, "submitted_at", day, status, backend)
            start = _start_key(query, position) if position else None
            items, next_key = self._indexes.fill_page(query, start, page_size - len(collected))
            collected.extend(items)
            if next_key is not None:
                return _page(collected, all_page_token(day, _position(next_key)))
            day, position = _previous_day(day), None
            if len(collected) == page_size:
                return _page(collected, all_page_token(day, None) if day >= oldest else "")
        return _page(collected, "")

    def pages_submitted_since(
        self, since: float, *, owner: str | None
    ) -> Iterator[list[JobRecord]]:
        """The owner index for one owner; for everyone, the day index, one day after another.

        The range key condition skips older jobs unread; each Query reads up to
        `usage_page` items (and at most 1 MB), and each day costs one at least.
        """
        if owner is not None:
            query = IndexQuery(OWNER_INDEX, "owner", "submitted_at", owner, range_from=since)
            yield from self._pages(query)
            return
        first = utc_day(since)
        day = utc_day(max(self._clock() + _CLOCK_SKEW_S, since))
        while day >= first:
            query = IndexQuery(DAY_INDEX, SUBMITTED_DAY, "submitted_at", day, range_from=since)
            yield from self._pages(query)
            day = _previous_day(day)

    def _pages(self, query: IndexQuery) -> Iterator[list[JobRecord]]:
        start: Item | None = None
        while True:
            items, start = self._indexes.read(query, start, limit=self._usage_page)
            yield [item_to_job(item) for item in items]
            if start is None:
                return


def _position(key: Item) -> Position:
    return Position(key[JOB_ID].get("S", ""), key["submitted_at"].get("N", ""))


def _start_key(query: IndexQuery, position: Position) -> Item:
    return {
        JOB_ID: {"S": position.job_id},
        query.hash_attr: {"S": query.hash_value},
        query.range_attr: {"N": position.submitted_at},
    }


def _previous_day(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def _page(items: list[Item], token: str) -> JobPage:
    return JobPage([item_to_job(item) for item in items], token)
