"""The last hour as a small SVG: queue depth as a line, jobs finished per minute as bars.

Drawn from GetActivity's minute samples (the scheduler keeps them), with the
current queue depth as the last point; coordinates only, the template draws.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from berth.scheduler.v1 import admin_pb2

WIDTH, HEIGHT, PAD = 600, 160, 24
HOUR_S = 3600.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD
    queue_points: str = ""
    now_x: float = 0.0
    now_y: float = 0.0
    queue_now: int = 0
    bars: list[Bar] = field(default_factory=list)
    max_queue: int = 0
    max_finished: int = 0
    samples: int = 0


def activity_chart(activity: admin_pb2.GetActivityResponse) -> Chart:
    now = activity.as_of.seconds + activity.as_of.nanos / 1e9
    queue: dict[float, int] = defaultdict(int)
    finished: dict[float, int] = defaultdict(int)
    for sample in activity.samples:
        at = sample.at.seconds + sample.at.nanos / 1e9
        queue[at] += sample.queue_length
        finished[at] += sample.finished
    queue[now] = sum(b.queue_length for b in activity.backends)
    max_queue = max(queue.values(), default=0)
    max_finished = max(finished.values(), default=0)
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x(at: float) -> float:
        return PAD + plot_w * (1 - min(max(now - at, 0.0), HOUR_S) / HOUR_S)

    def y(value: int, top: int) -> float:
        return PAD + plot_h * (1 - value / top) if top else PAD + plot_h

    points = " ".join(f"{x(at):.1f},{y(v, max_queue):.1f}" for at, v in sorted(queue.items()))
    bar_w = plot_w / 60 * 0.7
    bars = [
        Bar(
            x(at) - bar_w,
            y(count, max_finished),
            bar_w,
            PAD + plot_h - y(count, max_finished),
            f"{count} finished",
        )
        for at, count in sorted(finished.items())
        if count
    ]
    return Chart(
        queue_points=points,
        now_x=x(now),
        now_y=y(queue[now], max_queue),
        queue_now=queue[now],
        bars=bars,
        max_queue=max_queue,
        max_finished=max_finished,
        samples=len(activity.samples),
    )
