"""The last known backend-status document, refreshed in the background.

Submissions read the cache, never SSM, so an SSM outage costs no request
anything: the last known status is kept and the failure is logged once, and
once more when the source recovers.
"""

from __future__ import annotations

import logging

from scheduler.backend_status.backend_status import (
    Availability,
    BackendAvailability,
    BackendStatusFormatError,
    BackendStatusSource,
    BackendStatusTable,
)
from scheduler.domain.errors import InvalidArgument, NotFound, Unavailable
from scheduler.domain.jobs import Role
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.periodic_task import PeriodicTask

log = logging.getLogger(__name__)


class BackendStatusCache:
    def __init__(self, source: BackendStatusSource, io: BlockingIo, refresh_s: float) -> None:
        self._source = source
        self._io = io
        self._table: BackendStatusTable = {}
        self._failing = False
        self._loop = PeriodicTask("backend-status refresh", lambda: refresh_s, self.refresh)
        self._reads_started = 0
        self._newest_read_applied = 0

    async def refresh(self) -> bool:
        """Re-read the source; on failure keep the last known table. True on success.

        Reads may overlap (the periodic one, one after an admin edit); a read
        that started before the one already applied is older and is dropped.
        """
        self._reads_started += 1
        read = self._reads_started
        try:
            table = await self._io.run(self._source.fetch)
        except (Unavailable, BackendStatusFormatError) as error:
            if not self._failing:
                log.warning("backend status: keeping the last known status: %s", error)
            self._failing = True
            return False
        if self._failing:
            log.info("backend status: source readable again")
        self._failing = False
        if read > self._newest_read_applied:
            self._newest_read_applied = read
            self._table = table
        return True

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def backends(self) -> list[str]:
        return sorted(self._table)

    def require_known(self, backend: str) -> None:
        """NotFound naming the known backends: an agent serving this one would never get a job."""
        if backend not in self._table:
            known = ", ".join(self.backends()) or "none configured"
            raise NotFound(f"unknown backend {backend[:64]!r}; known backends: {known}")

    def lookup(self, backend: str, role: Role) -> BackendAvailability:
        """The backend's status for role; InvalidArgument for an unknown backend."""
        per_role = self._table.get(backend)
        if per_role is None:
            known = ", ".join(self.backends()) or "none configured"
            raise InvalidArgument(f"unknown backend {backend[:64]!r}; known backends: {known}")
        return per_role.get(
            role, BackendAvailability(Availability.UNAVAILABLE, f"not offered to role {role.value}")
        )

    def require_available(self, backend: str, role: Role) -> None:
        status = self.lookup(backend, role)
        if status.availability is not Availability.AVAILABLE:
            detail = f": {status.description}" if status.description else ""
            raise Unavailable(
                f"backend {backend!r} is {status.availability.value} for role {role.value}{detail}"
            )
