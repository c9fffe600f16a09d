"""`berth submit --array` and `status`/`wait`/`cancel ARRAY` against a real scheduler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agent_helpers import ManualAgent
from tests.berth_system import BerthSystem
from tests.client_harness import RunCli, agent_runs_next_job

pytest_plugins = ["tests.client_fixtures"]  # `cli`, `program`


def params_file(directory: Path, *lines: str) -> Path:
    path = directory / "params.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_array_is_submitted_watched_and_cancelled_as_one(
    berth_system: BerthSystem, cli: RunCli, program: Path, tmp_path: Path
) -> None:
    params = params_file(
        tmp_path, '{"theta": 0.1}', "", '{"theta": 0.2, "tag": "b"}', '{"theta": 3}'
    )
    ran = cli(
        "submit", str(program), "--backend", "emulator", "--param", "tag=a",
        "--array", str(params), "--max-running", "1", "--json",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    submitted = ran.json()
    array_id, job_ids = submitted["array_id"], submitted["job_ids"]
    assert array_id.startswith("array-") and len(job_ids) == 3

    status = cli("status", array_id, "--json").json()
    assert (status["size"], status["max_running"], status["counts"]) == (3, 1, {"QUEUED": 3})
    assert [job["job_id"] for job in status["jobs"]] == job_ids
    assert [job["parameters"] for job in status["jobs"]] == [
        {"tag": "a", "theta": "0.1"},
        {"tag": "b", "theta": "0.2"},
        {"tag": "a", "theta": "3"},
    ]
    assert cli("status", job_ids[1], "--json").json()["status"] == "QUEUED"  # an ordinary job

    assert agent_runs_next_job(berth_system) == job_ids[0]
    human = cli("status", array_id)
    assert human.code == 0
    assert f"array {array_id}: 3 jobs (1 COMPLETED, 2 QUEUED), at most 1 running" in human.out
    assert job_ids[2] in human.out

    cancel = cli("cancel", array_id, "--json")
    assert cancel.json() == {
        "array_id": array_id,
        "cancelled": 2,
        "cancel_requested": 0,
        "already_ended": 1,
    }
    waited = cli("wait", array_id, "--json")
    assert waited.code == 1  # not every job COMPLETED
    assert waited.json()["counts"] == {"CANCELLED": 2, "COMPLETED": 1}
    assert "1 asked to stop" not in cli("cancel", array_id).out


def test_the_throttle_keeps_a_second_agent_waiting(
    berth_system: BerthSystem, cli: RunCli, program: Path, tmp_path: Path
) -> None:
    params = params_file(tmp_path, '{"i": 1}', '{"i": 2}')
    ran = cli(
        "submit", str(program), "--backend", "emulator", "--array", str(params),
        "--max-running", "1",
    )  # fmt: skip
    array_id = ran.out.strip()
    address, token = berth_system.execution_address, berth_system.tokens["executor"]
    with ManualAgent(address, token, "agent-a") as first, ManualAgent(address, token, "b") as other:
        assigned = first.assign("emulator")
        with pytest.raises(AssertionError, match="no job"):
            other.assign("emulator", wait_s=1.5)
        first.finish(assigned, b"done")
        assert other.assign("emulator").job_id != assigned.job_id
    assert cli("status", array_id, "--json").json()["counts"] == {"COMPLETED": 1, "RUNNING": 1}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (('{"a": 1}', "not json"), "params.jsonl line 2: not JSON"),
        (("[1, 2]",), "line 1: expected a JSON object"),
        (('{"a": {"b": 1}}',), "values must be strings, numbers or booleans"),
        (("",), "holds no parameter sets"),
    ],
)
def test_a_bad_parameter_file_is_a_usage_error_naming_the_line(
    cli: RunCli, program: Path, tmp_path: Path, lines: tuple[str, ...], message: str
) -> None:
    params = params_file(tmp_path, *lines)
    ran = cli("submit", str(program), "--backend", "emulator", "--array", str(params))
    assert ran.code == 2 and message in ran.err


def test_an_array_over_the_concurrency_limit_is_refused_and_nothing_is_queued(
    cli: RunCli, program: Path, tmp_path: Path
) -> None:
    params = params_file(tmp_path, *(json.dumps({"i": i}) for i in range(1000)))
    ran = cli("submit", str(program), "--backend", "emulator", "--array", str(params))
    assert ran.code != 0 and "SCHEDULER_MAX_CONCURRENT_JOBS_DEVELOPER" in ran.err
    assert cli("list", "--json").json() == []
