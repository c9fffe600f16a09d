"""Keeps the benchmark harness from rotting: its in-process parts at tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib import image

from bench.chart import MET, MISSED, bars_of
from bench.chart import main as chart_main
from bench.queue_phase import PAYLOAD_BYTES, queue_memory, queue_rows
from bench.targets import TARGETS, judge


def test_queue_phase_times_push_and_pop_at_each_length() -> None:
    rows = queue_rows([100, 1_000], operations=200)

    assert [row.phase for row in rows] == [
        "queue push @100",
        "queue pop @100",
        "queue push @1,000",
        "queue pop @1,000",
    ]
    for row in rows:
        assert row.ops == 200
        assert row.rate_per_s > 0
        assert 0 < row.p50_ms <= row.p99_ms


def test_queue_memory_counts_more_than_the_payload() -> None:
    memory = queue_memory(500)

    assert memory.jobs == 500
    assert memory.bytes_per_job > PAYLOAD_BYTES
    assert memory.overhead_per_job == memory.bytes_per_job - PAYLOAD_BYTES


def test_the_chart_of_a_results_file_shows_met_and_missed_targets(tmp_path: Path) -> None:
    first, second = TARGETS[0], TARGETS[1]
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "mode": "quick",
                "runs": 1,
                "targets": [
                    {"key": first.key, "value": first.limit * 2, "met": True},
                    {"key": second.key, "value": second.limit / 2, "met": False},
                ],
            }
        )
    )

    assert chart_main([str(results)]) == 0

    pixels = (255 * image.imread(results.with_suffix(".png"))[:, :, :3]).round()
    drawn = {colour: bool((pixels == _rgb(colour)).all(axis=2).any()) for colour in (MET, MISSED)}
    assert drawn == {MET: True, MISSED: True}  # the met and the missed bar
    assert [bar.met for bar in bars_of(json.loads(results.read_text()))] == [True, False]


def _rgb(hex_colour: str) -> tuple[int, ...]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def test_a_target_more_than_ten_percent_worse_than_the_baseline_is_a_regression() -> None:
    baseline = {target.key: target.limit for target in TARGETS}

    def worse_by(fraction: float) -> dict[str, float]:
        return {
            t.key: t.limit * (1 - fraction if t.higher_is_better else 1 + fraction) for t in TARGETS
        }

    assert not any(v.regressed for v in judge(worse_by(0.05), baseline))
    verdicts = judge(worse_by(0.2), baseline)
    assert all(v.regressed and not v.met for v in verdicts)
    assert not any(v.regressed for v in judge(worse_by(0.2), None))
