"""The printed table, the target verdicts, the JSON file and the machine description."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.api_calls import LifecycleCalls
from bench.measurements import Row
from bench.targets import REGRESSION_TOLERANCE, Verdict

_HEADER = (
    "phase",
    "ops",
    "rate/s",
    "p50 ms",
    "p99 ms",
    "server CPU s/1k",
    "server peak RSS MiB",
    "emulator CPU s/1k",
)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def table(rows: Sequence[Row]) -> str:
    cells = [_HEADER] + [
        (
            row.phase,
            str(row.ops),
            _number(row.rate_per_s),
            _number(row.p50_ms),
            _number(row.p99_ms),
            _number(row.cpu_s_per_1k),
            _number(row.peak_rss_mib),
            _number(row.emulator_cpu_s_per_1k),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_HEADER))]

    def line(values: Sequence[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (value.rjust(width) for value, width in zip(values[1:], widths[1:], strict=True))
        return "| " + " | ".join([first, *rest]) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), separator, *(line(values) for values in cells[1:])])


def verdict_lines(verdicts: Sequence[Verdict]) -> list[str]:
    lines = []
    for v in verdicts:
        t = v.target
        line = f"{'met    ' if v.met else 'NOT MET'}  {t.description}: {t.stated(v.value)}"
        if v.baseline is not None:
            line += f"; baseline {v.baseline:.3g}{t.unit}"
            if v.regressed:
                line += f"  REGRESSION > {REGRESSION_TOLERANCE:.0%}"
        lines.append(line)
    return lines


def calls_line(calls: LifecycleCalls) -> str:
    scheduler = ", ".join(f"{name} {count:g}" for name, count in calls.per_lifecycle.items())
    presigned = ", ".join(f"{name} {count}" for name, count in calls.presigned.items())
    return (
        f"AWS calls per job lifecycle by the scheduler: {calls.total:g} ({scheduler}); "
        f"besides, direct to S3: {presigned}"
    )


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kib = 0
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def machine_line(info: Mapping[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, Linux {info['kernel']}, "
        f"Python {info['python']}; load average at start {info['load_average_at_start']}"
    )


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def read_baseline(path: Path, mode: str) -> tuple[dict[str, float] | None, str]:
    """The baseline's figures and a line saying what was compared (or why not)."""
    if not path.exists():
        return None, f"no baseline at {path}: nothing compared"
    document = json.loads(path.read_text())
    if document.get("mode") != mode:
        return (
            None,
            f"baseline {path} is a {document.get('mode')} run, this is {mode}: not compared",
        )
    figures = {str(k): float(v) for k, v in document["median"]["figures"].items()}
    return figures, f"compared with {path} ({document.get('written_at', 'undated')})"
