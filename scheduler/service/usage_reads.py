"""Usage reports for the submission port: who may ask for what, and the reads behind it.

Each page is read in the port's worker pool and folded in before the next is
asked for, so a month-long report holds one thread per page, not for its length.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from scheduler.domain.errors import InvalidArgument, PermissionDenied
from scheduler.domain.jobs import JobRecord, Principal, Role
from scheduler.job_store.job_store import JobStore
from scheduler.service.blocking_io import BlockingIo
from scheduler.service.usage_report import Grouping, UsageReport, UsageTally

DAY_S = 86_400.0


class UsageReads:
    def __init__(
        self,
        store: JobStore,
        io: BlockingIo,
        retention_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._io = io
        self._retention_days = retention_days
        self._clock = clock

    async def report(
        self, principal: Principal, since: float, grouping: Grouping, *, all_users: bool
    ) -> UsageReport:
        """The caller's own jobs submitted since `since`; everyone's with `all_users` (admins)."""
        if all_users and principal.role is not Role.ADMIN:
            raise PermissionDenied("only admin tokens may report all users' usage (all_users)")
        if grouping is Grouping.USER and not all_users:
            raise InvalidArgument("grouping by user needs all_users (admin): yours has one user")
        now = self._clock()
        self._check_since(since, now)
        tally = UsageTally(since, grouping)
        owner = None if all_users else principal.owner
        pages = self._store.pages_submitted_since(since, owner=owner)
        while (page := await self._io.run(_next_page, pages)) is not None:
            tally.add_page(page)
        return tally.report(now)

    def _check_since(self, since: float, now: float) -> None:
        kept = self._retention_days
        if since <= 0:
            raise InvalidArgument(f"set since: the start of the report, at most {kept} days ago")
        if since > now:
            raise InvalidArgument("since is in the future: ask for jobs submitted before now")
        if since < now - kept * DAY_S:
            raise InvalidArgument(
                f"since is {(now - since) / DAY_S:.1f} days ago, but jobs are kept {kept} days: "
                f"ask for at most {kept} days"
            )


def _next_page(pages: Iterator[list[JobRecord]]) -> list[JobRecord] | None:
    return next(pages, None)
