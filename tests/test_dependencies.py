"""The verdict on a waiting job's dependencies, against a brute-force reading of each
condition, and final once it is not "waiting" (terminal statuses never change)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.dependencies import Condition, Outcome, judge
from scheduler.domain.jobs import TERMINAL_STATUSES, JobStatus

STATES = st.sampled_from([*JobStatus, None])
DEPENDENCIES = st.dictionaries(
    st.sampled_from([f"job-{n}" for n in range(8)]), STATES, min_size=1, max_size=8
)


def _ended(status: JobStatus | None) -> bool:
    return status is None or status.terminal


def expected(condition: Condition, states: dict[str, JobStatus | None]) -> Outcome:
    values = list(states.values())
    if condition is Condition.AFTER_OK:
        if all(s is JobStatus.COMPLETED for s in values):
            return Outcome.ELIGIBLE
        if any(_ended(s) for s in values if s is not JobStatus.COMPLETED):
            return Outcome.IMPOSSIBLE
        return Outcome.WAITING
    if condition is Condition.AFTER_ANY:
        return Outcome.ELIGIBLE if all(_ended(s) for s in values) else Outcome.WAITING
    if any(s is not None and s.terminal and s is not JobStatus.COMPLETED for s in values):
        return Outcome.ELIGIBLE
    if all(_ended(s) for s in values):  # a gone one's outcome is unknown: not "not ok"
        return Outcome.IMPOSSIBLE
    return Outcome.WAITING


@given(st.sampled_from(Condition), DEPENDENCIES)
def test_the_verdict_is_each_conditions_plain_reading(
    condition: Condition, states: dict[str, JobStatus | None]
) -> None:
    verdict = judge(condition, states)
    assert verdict.outcome is expected(condition, states)
    assert verdict.pending == tuple(j for j, s in states.items() if not _ended(s))
    assert verdict.total == len(states)
    if verdict.outcome is Outcome.IMPOSSIBLE:
        named = [j for j in states if f"job {j} " in verdict.reason]
        assert named, verdict.reason  # the deciding dependency is named
        assert condition.value in verdict.reason


@given(st.sampled_from(Condition), DEPENDENCIES, st.data())
def test_a_decided_verdict_stays_whatever_the_pending_jobs_end_as(
    condition: Condition, states: dict[str, JobStatus | None], data: st.DataObject
) -> None:
    first = judge(condition, states)
    ends = st.sampled_from(sorted(TERMINAL_STATUSES))
    later = {j: s if _ended(s) else data.draw(ends) for j, s in states.items()}
    final = judge(condition, later)
    assert final.outcome is not Outcome.WAITING
    if first.outcome is not Outcome.WAITING:
        assert final.outcome is first.outcome


def test_the_waiting_detail_names_the_first_few_pending_jobs() -> None:
    states: dict[str, JobStatus | None] = {
        "a": JobStatus.COMPLETED,
        "b": JobStatus.RUNNING,
        "c": JobStatus.QUEUED,
        "d": JobStatus.WAITING,
        "e": JobStatus.HELD,
    }
    verdict = judge(Condition.AFTER_OK, states)
    assert verdict.waiting_detail() == "waiting for 4 of 5 jobs: b, c, d, ..."
