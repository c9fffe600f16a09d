"""One row of the results table, and the statistics that fill it."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation between two."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass(frozen=True)
class Row:
    """One phase: throughput, latency and what the server under test spent on it.

    CPU and RSS are None where no separate server process is measured (the
    emulator floors, the in-process queue).
    """

    phase: str
    ops: int
    rate_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_s_per_1k: float | None = None
    peak_rss_mib: float | None = None
    emulator_cpu_s_per_1k: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Row:
        return Row(**data)


@dataclass(frozen=True)
class Usage:
    """What the measured processes spent during one phase."""

    cpu_s: float | None = None
    peak_rss_bytes: int | None = None
    emulator_cpu_s: float | None = None


def summarise(phase: str, latencies_s: Sequence[float], wall_s: float, usage: Usage) -> Row:
    ops = len(latencies_s)

    def per_1k(cpu_s: float | None) -> float | None:
        return None if cpu_s is None or ops == 0 else cpu_s / ops * 1000

    return Row(
        phase=phase,
        ops=ops,
        rate_per_s=ops / wall_s if wall_s > 0 else math.nan,
        p50_ms=percentile(latencies_s, 0.50) * 1000,
        p99_ms=percentile(latencies_s, 0.99) * 1000,
        cpu_s_per_1k=per_1k(usage.cpu_s),
        peak_rss_mib=None if usage.peak_rss_bytes is None else usage.peak_rss_bytes / 2**20,
        emulator_cpu_s_per_1k=per_1k(usage.emulator_cpu_s),
    )


def median_row(rows: Sequence[Row]) -> Row:
    """Each column's median over the runs (columns independently, as the targets are)."""

    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None and not math.isnan(v)]
        return statistics.median(present) if present else None

    def med_required(values: list[float]) -> float:
        value = med(list(values))
        return math.nan if value is None else value

    return Row(
        phase=rows[0].phase,
        ops=int(statistics.median(r.ops for r in rows)),
        rate_per_s=med_required([r.rate_per_s for r in rows]),
        p50_ms=med_required([r.p50_ms for r in rows]),
        p99_ms=med_required([r.p99_ms for r in rows]),
        cpu_s_per_1k=med([r.cpu_s_per_1k for r in rows]),
        peak_rss_mib=med([r.peak_rss_mib for r in rows]),
        emulator_cpu_s_per_1k=med([r.emulator_cpu_s_per_1k for r in rows]),
    )
