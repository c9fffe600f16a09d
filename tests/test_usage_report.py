"""The usage report's figures equal a brute-force count, however the jobs come in pages."""

from __future__ import annotations

import dataclasses
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.jobs import JobRecord, JobStatus
from scheduler.service.usage_report import Grouping, UsageTally, nearest_rank
from tests.job_records import DAY, NOW, new_job
from tests.usage_oracle import assert_same_figures, expected_usage

SINCE = NOW - 3 * DAY


@st.composite
def jobs(draw: st.DrawFn) -> JobRecord:
    """A job in any state, with the times and bytes its state can have."""
    job = new_job(
        owner=draw(st.sampled_from(["a" * 64, "b" * 64])),
        backend=draw(st.sampled_from(["qpu", "emulator", "sim"])),
        submitted_at=SINCE + draw(st.floats(-DAY, 3 * DAY)),
    )
    job.status = draw(st.sampled_from(list(JobStatus)))
    job.size_bytes = draw(st.integers(0, 10**6))
    seconds = st.floats(0, 3600, allow_nan=False)
    if job.status is not JobStatus.QUEUED and draw(st.booleans()):  # some never left the queue
        job.dequeued_at = job.queued_at + draw(seconds)
        if job.status.terminal and draw(st.booleans()):  # some ended by the scheduler
            job.execution_started_at = job.dequeued_at + draw(seconds)
            job.execution_finished_at = job.execution_started_at + draw(seconds)
            job.result_encoded_bytes = draw(st.integers(0, 10**6))
            job.log_bytes = draw(st.integers(0, 10**5))
    return job


@settings(max_examples=150, deadline=None)
@given(
    st.lists(jobs(), max_size=40),
    st.sampled_from(list(Grouping)),
    st.lists(st.integers(0, 40), max_size=4),
)
def test_figures_equal_a_brute_force_count(
    records: list[JobRecord], grouping: Grouping, cuts: list[int]
) -> None:
    edges = sorted({0, len(records), *(min(c, len(records)) for c in cuts)})
    tally = UsageTally(SINCE, grouping)
    for start, end in itertools.pairwise(edges):
        tally.add_page(records[start:end])
    report = tally.report(NOW)

    total, groups = expected_usage(records, SINCE, grouping.value)
    assert_same_figures(dataclasses.asdict(report.total), total)
    assert [g.key for g in report.groups] == [g["key"] for g in groups]
    for actual, expected in zip(report.groups, groups, strict=True):
        assert_same_figures(dataclasses.asdict(actual), expected)
    assert report.storage_queries == len(edges) - 1


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank(values, 50) == 10.0
    assert nearest_rank(values, 95) == 19.0
    assert nearest_rank([4.0], 95) == 4.0
    assert nearest_rank([], 50) == 0.0
