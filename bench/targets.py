"""The performance targets as ratios of measured figures, and the regression check.

Every figure is computed per run and the median over runs is judged, so one
noisy run on a shared machine neither passes nor fails a target alone.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.measurements import Row

REGRESSION_TOLERANCE = 0.10


@dataclass(frozen=True)
class Target:
    key: str
    label: str  # a few words, for the chart
    description: str
    limit: float
    higher_is_better: bool
    unit: str = "x"

    def met(self, value: float) -> bool:
        return value >= self.limit if self.higher_is_better else value <= self.limit

    def stated(self, value: float) -> str:
        """The value beside its target, e.g. "3.43x (target ≥ 1.5x)"."""
        sign = "≥" if self.higher_is_better else "≤"
        return f"{value:.3g}{self.unit} (target {sign} {self.limit:g}{self.unit})"

    def attainment(self, value: float) -> float:
        """1.0 exactly at the target, above 1 better than asked (for the chart)."""
        if value <= 0:
            return float("inf") if not self.higher_is_better else 0.0
        return value / self.limit if self.higher_is_better else self.limit / value

    def regressed(self, value: float, baseline: float) -> bool:
        if self.higher_is_better:
            return value < baseline * (1 - REGRESSION_TOLERANCE)
        return value > baseline * (1 + REGRESSION_TOLERANCE)


TARGETS = (
    Target(
        "submit_vs_naive",
        "submit ÷ naive floor",
        "submit C=8 rate / naive submit floor C=8",
        1.5,
        True,
    ),
    Target(
        "execute_vs_update_item",
        "execute ÷ update_item floor",
        "execute E=4 rate / update_item floor C=4",
        0.5,
        True,
    ),
    Target(
        "status_vs_get_item",
        "status ÷ get_item floor",
        "GetJobStatus C=8 rate / get_item floor C=8",
        2.0,
        True,
    ),
    Target("dispatch_p50_ms", "dispatch p50", "dispatch latency p50", 10.0, False, " ms"),
    Target("dispatch_p99_ms", "dispatch p99", "dispatch latency p99", 50.0, False, " ms"),
    Target(
        "pop_largest_vs_100",
        "queue pop, largest ÷ 100",
        "queue pop p50 at the largest length / at 100",
        2.0,
        False,
    ),
    Target(
        "queue_overhead_bytes",
        "queue bytes per job",
        "queue memory per job beyond its payload",
        512.0,
        False,
        " B",
    ),
    Target(
        "aws_calls_per_lifecycle",
        "AWS calls per job",
        "AWS API calls per job lifecycle",
        6.0,
        False,
        "",
    ),
    Target(
        "dashboard_page_vs_calls",
        "dashboard page / calls",
        "dashboard jobs page of 50, server p50 / its ListJobs p50",
        1.5,
        False,
    ),
)


def _row(rows: Sequence[Row], phase: str) -> Row:
    for row in rows:
        if row.phase == phase:
            return row
    raise KeyError(f"no phase {phase!r} in this run")


def run_figures(
    rows: Sequence[Row], queue_lengths: Sequence[int], overhead_bytes: float, calls: float
) -> dict[str, float]:
    """The value of every target for one run."""

    def rate(phase: str) -> float:
        return _row(rows, phase).rate_per_s

    dispatch = _row(rows, "dispatch (paced)")
    largest = f"queue pop @{max(queue_lengths):,}"
    return {
        "submit_vs_naive": rate("submit 100 B C=8") / rate("floor: naive submit C=8"),
        "execute_vs_update_item": rate("execute E=4") / rate("floor: update_item C=4"),
        "status_vs_get_item": rate("status C=8") / rate("floor: get_item C=8"),
        "dispatch_p50_ms": dispatch.p50_ms,
        "dispatch_p99_ms": dispatch.p99_ms,
        "pop_largest_vs_100": _row(rows, largest).p50_ms / _row(rows, "queue pop @100").p50_ms,
        "queue_overhead_bytes": overhead_bytes,
        "aws_calls_per_lifecycle": calls,
        "dashboard_page_vs_calls": _row(rows, "dashboard: jobs page of 50 (server)").p50_ms
        / _row(rows, "dashboard: its ListJobs of 50").p50_ms,
        # Context for the execute target, not targets themselves (see execute_storage).
        "storage_floor_vs_update_item": rate("floor: execute storage C=4")
        / rate("floor: update_item C=4"),
        "execute_vs_storage_floor": rate("execute E=4") / rate("floor: execute storage C=4"),
    }


def context_lines(figures: Mapping[str, float]) -> list[str]:
    """What bounds the execute target on this stack, in the run's own measurements."""
    return [
        "context  storage calls alone (claim, PUT, HEAD, finish) E=4 / update_item floor C=4: "
        f"{figures['storage_floor_vs_update_item']:.3g}x — the most any scheduler could reach",
        "context  execute E=4 rate / those storage calls alone: "
        f"{figures['execute_vs_storage_floor']:.3g}x",
    ]


def median_figures(runs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


@dataclass(frozen=True)
class Verdict:
    target: Target
    value: float
    baseline: float | None

    @property
    def met(self) -> bool:
        return self.target.met(self.value)

    @property
    def regressed(self) -> bool:
        return self.baseline is not None and self.target.regressed(self.value, self.baseline)


def judge(figures: Mapping[str, float], baseline: Mapping[str, float] | None) -> list[Verdict]:
    return [
        Verdict(target, figures[target.key], None if baseline is None else baseline.get(target.key))
        for target in TARGETS
    ]
