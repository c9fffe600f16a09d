"""A throttled array run by four real agent processes: never more than K at once, all complete."""

from __future__ import annotations

import sys
from pathlib import Path

from scheduler_client import Client
from tests.agent_process import AgentProcess
from tests.berth_system import BerthSystem

PROGRAM = ["--", sys.executable, str(Path(__file__).with_name("agent_job_program.py"))]


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        most = max(most, running)
    return most


def test_four_agents_never_run_more_of_an_array_than_its_throttle(
    berth_system: BerthSystem, tmp_path: Path
) -> None:
    agents = [
        AgentProcess(
            berth_system,
            "--agent-id",
            f"agent{n}",
            *PROGRAM,
            stderr_path=tmp_path / f"agent{n}.stderr",
        )
        for n in range(4)
    ]
    try:
        for agent in agents:
            agent.wait_for("started")
        with Client(berth_system.submission_address, berth_system.tokens["developer"]) as client:
            submitted = client.submit_array(
                b"sweep",
                [{"i": str(i)} for i in range(8)],
                format="qasm3",
                backend="emulator",
                parameters={"sleep": "0.3"},
                max_running=2,
            )
            *_, final = client.watch_array(submitted.array_id, poll_s=0.2, timeout=90)
    finally:
        for agent in agents:
            agent.stop()
    assert final.counts == {"COMPLETED": 8}
    runs = [(job.times.execution_started_at, job.times.execution_finished_at) for job in final.jobs]
    assert all(start and end for start, end in runs)
    spans = [(s.timestamp(), e.timestamp()) for s, e in runs if s and e]
    dequeued = [job.times.dequeued_at for job in final.jobs]
    assert most_at_once(spans) <= 2, (spans, dequeued, [job.attempt for job in final.jobs])
