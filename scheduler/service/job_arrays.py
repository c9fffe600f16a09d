"""Job arrays: one program, N parameter sets, N ordinary jobs admitted together.

Every limit is checked for the whole array before anything is stored, so an
array is accepted or refused whole. No record of the array exists apart from
its jobs: each carries the array's id, size and throttle, and member ids are
derived from the array id, so the first member (written first, conditionally
for a keyed array: the idempotency guard) leads to all the others.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from scheduler.config import SchedulerConfig
from scheduler.domain.errors import FailedPrecondition, InvalidArgument, NotFound
from scheduler.domain.jobs import JobRecord, JobView, Principal, Role, SubmitRequest
from scheduler.job_store.job_store import JobStore
from scheduler.service.backend_status_cache import BackendStatusCache
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.job_lifecycle import JobLifecycle
from scheduler.service.limits import check_submission
from scheduler.service.submissions import (
    SubmissionOperations,
    as_waiting,
    stores_inline,
    waiting_for,
)

log = logging.getLogger(__name__)

ARRAY_PREFIX = "array-"
_ARRAY_ID = re.compile(r"^array-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Keyed arrays get an id derived from (owner, key), like keyed single jobs.
_KEYED_ARRAYS = uuid.UUID("0c2f6a4e-5d0b-4b1f-8f43-2e1a9d7b6c55")
_MEMBERS = uuid.UUID("b8e1d3f2-7a64-4c09-9d2e-51f0a6c3e874")
MAX_THROTTLE = 1_000_000


def member_id(array_id: str, index: int) -> str:
    """The id of the array's job number `index` (0-based)."""
    return str(uuid.uuid5(_MEMBERS, f"{array_id}\0{index}"))


def is_array_id(value: str) -> bool:
    return value.startswith(ARRAY_PREFIX)


@dataclass(frozen=True)
class ArrayRequest:
    """The shared job (its parameters shared by all) and one parameter set per member."""

    job: SubmitRequest
    parameter_sets: list[dict[str, str]]
    member_bytes: list[int]  # what each member counts against the limits
    max_running: int


@dataclass(frozen=True)
class ArrayView:
    array_id: str
    max_running: int
    jobs: list[JobView]

    def counts(self) -> dict[str, int]:
        return dict(Counter(view.job.status.value for view in self.jobs))


@dataclass(frozen=True)
class ArrayCancel:
    cancelled: int
    cancel_requested: int
    already_ended: int


class JobArrays:
    def __init__(
        self,
        config: SchedulerConfig,
        lifecycle: JobLifecycle,
        submissions: SubmissionOperations,
        *,
        store: JobStore,
        backend_status: BackendStatusCache,
        io: BlockingIo,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._lifecycle = lifecycle
        self._submissions = submissions
        self._store = store
        self._backend_status = backend_status
        self._io = io
        self._clock = clock

    async def submit(self, principal: Principal, request: ArrayRequest) -> tuple[str, list[str]]:
        members = self._check(principal, request)
        key = request.job.idempotency_key
        if key:
            array_id = ARRAY_PREFIX + str(uuid.uuid5(_KEYED_ARRAYS, f"{principal.owner}\0{key}"))
            first = await self._io.run(self._store.get, member_id(array_id, 0))
            if first is not None:
                return array_id, _member_ids(array_id, first.array_size)
        else:
            array_id = ARRAY_PREFIX + str(uuid.uuid4())
        job_ids = _member_ids(array_id, len(members))
        sizes = [(job_id, m.size_bytes) for job_id, m in zip(job_ids, members, strict=True)]
        # Every member waits on the same jobs: judged once, for all of them.
        verdict = await self._submissions.judge_dependencies(principal, request.job)

        async def prepare() -> tuple[list[JobRecord], bytes | None]:
            records, payload = await self._records(principal, request, array_id, job_ids, members)
            return [as_waiting(job, verdict) for job in records], payload

        created = await self._lifecycle.create_array(
            principal.owner,
            principal.role,
            sizes,
            prepare,
            keyed=bool(key),
            waiting_on=waiting_for(verdict),
        )
        if not created:  # a concurrent retry with the same key won
            first = await self._io.run(self._store.get, job_ids[0])
            return array_id, _member_ids(array_id, first.array_size if first else len(members))
        log.info(
            "array %s queued: %d jobs, backend=%s owner=%s max_running=%d",
            array_id,
            len(members),
            request.job.backend,
            principal.token_id,
            request.max_running,
        )
        return array_id, job_ids

    def _check(self, principal: Principal, request: ArrayRequest) -> list[SubmitRequest]:
        """Every member's submission, each checked, and the array's own limits."""
        count = len(request.parameter_sets)
        limit = self._config.max_array_jobs[principal.role]
        if not 1 <= count <= limit:
            raise InvalidArgument(
                f"the array has {count} parameter sets; role {principal.role.value} may submit "
                f"1 to {limit} (SCHEDULER_MAX_ARRAY_JOBS_{principal.role.value.upper()})"
            )
        if not 0 <= request.max_running <= MAX_THROTTLE:
            raise InvalidArgument(f"max_running must be between 0 (no throttle) and {MAX_THROTTLE}")
        members = []
        for index, (parameters, size) in enumerate(
            zip(request.parameter_sets, request.member_bytes, strict=True)
        ):
            member = replace(
                request.job, parameters={**request.job.parameters, **parameters}, size_bytes=size
            )
            try:
                check_submission(member, principal, self._config)
            except InvalidArgument as error:
                raise InvalidArgument(f"parameter_sets[{index}]: {error}") from error
            members.append(member)
        self._backend_status.require_available(request.job.backend, principal.role)
        return members

    async def _records(
        self,
        principal: Principal,
        request: ArrayRequest,
        array_id: str,
        job_ids: list[str],
        members: list[SubmitRequest],
    ) -> tuple[list[JobRecord], bytes | None]:
        """The members' records, and the input their queue entries share (one object).

        An input too large for the records is stored once per member: an input
        object lives and is swept with its own job's record (orphan_sweep.py).
        """
        inline = all(stores_inline(m, self._config.inline_input_bytes) for m in members)
        now = self._clock()
        records = [
            replace(
                self._submissions.queued_record(principal, member, job_id, now, inline=inline),
                array_id=array_id,
                array_index=index,
                array_size=len(members),
                array_max_running=request.max_running,
            )
            for index, (job_id, member) in enumerate(zip(job_ids, members, strict=True))
        ]
        if not inline:
            await asyncio.gather(
                *(
                    self._submissions.store_input(principal, member, job_id)
                    for job_id, member in zip(job_ids, members, strict=True)
                )
            )
        return records, request.job.payload

    async def view(self, principal: Principal, array_id: str) -> ArrayView:
        records = await self._load(principal, array_id)
        return ArrayView(
            array_id,
            records[0].array_max_running,
            [self._submissions.view_of(job) for job in records],
        )

    async def cancel(self, principal: Principal, array_id: str) -> ArrayCancel:
        records = await self._load(principal, array_id)
        ended = sum(job.status.terminal for job in records)
        cancelled = requested = 0
        for job in records:
            if job.status.terminal:
                continue
            try:
                after = await self._submissions.cancel_loaded(principal, job)
            except FailedPrecondition:  # it ended meanwhile
                ended += 1
                continue
            if after.cancel_requested and not after.status.terminal:
                requested += 1
            else:
                cancelled += 1
        log.info("array %s cancelled: %d queued, %d running", array_id, cancelled, requested)
        return ArrayCancel(cancelled, requested, ended)

    async def _load(self, principal: Principal, array_id: str) -> list[JobRecord]:
        """The array's records in order; another owner's array is NOT_FOUND."""
        if not _ARRAY_ID.match(array_id):
            raise NotFound(f"no job array {array_id[:80]!r} for this token")
        first = await self._io.run(self._store.get, member_id(array_id, 0))
        if first is None or (first.owner != principal.owner and principal.role is not Role.ADMIN):
            raise NotFound(f"no job array {array_id!r} for this token")
        job_ids = _member_ids(array_id, first.array_size)
        found = await self._io.run(self._store.get_many, job_ids[1:])
        found[first.job_id] = first
        return [found[job_id] for job_id in job_ids if job_id in found]


def _member_ids(array_id: str, size: int) -> list[str]:
    return [member_id(array_id, index) for index in range(size)]
