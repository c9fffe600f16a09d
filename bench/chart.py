"""The chart of a bench run: each target's attainment as a horizontal bar (matplotlib).

Horizontal bars leave each target's name a line of its own, so no label can run
into another however many targets there are. `python -m bench.chart RESULTS.json
[OUT.png]` redraws the chart of a written run (e.g. the committed baseline) without
running the bench again.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from bench.targets import TARGETS

MET = "#2ea043"
MISSED = "#cf222e"
CLIP = 3.0  # attainment drawn at most this far; the bar's figure still says the value


@dataclass(frozen=True)
class Bar:
    label: str
    attainment: float  # 1.0 = exactly at the target, above = better than asked
    met: bool
    note: str = ""  # written right of the plot, e.g. the value and its target


def bar_chart(bars: Sequence[Bar], path: Path, *, subtitle: str = "") -> None:
    """One bar per target, the target drawn as a line at 1.0."""
    # A Figure of its own (no pyplot): no global state, no GUI backend, freed with it.
    figure = Figure(figsize=(9.0, 0.5 * len(bars) + 1.6), dpi=120)
    axes = figure.subplots()
    rows = range(len(bars))[::-1]  # the first target on top
    drawn = [min(bar.attainment, CLIP) for bar in bars]
    axes.barh(rows, drawn, height=0.6, color=[MET if bar.met else MISSED for bar in bars])
    axes.set_yticks(list(rows), [bar.label for bar in bars])
    # Each bar's value and target in a column of their own, right of the plot, where
    # neither the bars nor the target line can run into them.
    notes = axes.twinx()
    notes.set_ylim(axes.get_ylim())
    notes.set_yticks(list(rows), [bar.note for bar in bars], fontsize=9)
    notes.tick_params(axis="y", length=0)
    axes.axvline(1.0, color="black", linewidth=1.2)
    axes.set_xlim(0, CLIP * 1.15)
    axes.set_xlabel(
        f"attainment (1.0 = exactly the target, right of it = met; bars end at {CLIP:g})"
    )
    axes.set_title(
        "Berth bench: each target's attainment (green: met, red: not met)",
        loc="left",
        fontsize=12,
    )
    if subtitle:
        figure.text(0.01, 0.005, subtitle, fontsize=7, color="#555555", va="bottom")
    axes.grid(axis="x", color="#dddddd")
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
        notes.spines[side].set_visible(False)
    figure.tight_layout(rect=(0, 0.03 if subtitle else 0, 1, 1))
    figure.savefig(path)


def bars_of(document: dict[str, object]) -> list[Bar]:
    """The bars of a run's results JSON (as `python -m bench` writes it)."""
    by_key = {target.key: target for target in TARGETS}
    verdicts = document["targets"]
    assert isinstance(verdicts, list)
    bars = []
    for verdict in verdicts:
        target, value = by_key[verdict["key"]], float(verdict["value"])
        bars.append(
            Bar(target.label, target.attainment(value), target.met(value), target.stated(value))
        )
    return bars


def subtitle_of(document: dict[str, object]) -> str:
    machine = document.get("machine")
    cores = machine.get("cores") if isinstance(machine, dict) else "?"
    return (
        f"{document.get('mode')} run, median of {document.get('runs')}, "
        f"{cores} cores, written {document.get('written_at', 'undated')}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chart", description=__doc__)
    parser.add_argument("results", type=Path, help="a results JSON, e.g. bench/baseline.json")
    parser.add_argument("out", type=Path, nargs="?", help="the PNG (default: beside the JSON)")
    args = parser.parse_args(argv)
    document = json.loads(args.results.read_text())
    out: Path = args.out or args.results.with_suffix(".png")
    bar_chart(bars_of(document), out, subtitle=subtitle_of(document))
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
