"""`berth submit --after/--condition/--dependency`, `depends_on`, and WAITING jobs shown.

First the client alone: what is sent for which words, how a WAITING job is
shown, what a refused command line says (exit 2, before any call). Then the
same commands against a real scheduler; with real processes (agents, kill -9,
two replicas) in tests/test_dependencies_processes.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from berth.scheduler.v1 import job_pb2, submission_pb2

from scheduler_client import Client, DependencyCondition, JobStatus, NotFoundError
from scheduler_client.cli.dependency_options import dependencies_from_args, dependency_hints
from scheduler_client.cli.formatting import job_details, status_phrase
from scheduler_client.cli.main import build_parser, main
from scheduler_client.job_array import ArraySubmission
from scheduler_client.job_info import JobInfo
from tests.agent_helpers import FAILURE
from tests.berth_system import BerthSystem
from tests.client_harness import (
    RunCli,
    agent_runs_next_job,
    closed_port,
    submit_id,
    write_program,
)
from tests.replica_processes import poll_until

pytest_plugins = ["tests.client_fixtures"]  # `cli`, `program`

AFTER_OK = submission_pb2.DEPENDENCY_CONDITION_AFTER_OK
AFTER_ANY = submission_pb2.DEPENDENCY_CONDITION_AFTER_ANY
AFTER_NOT_OK = submission_pb2.DEPENDENCY_CONDITION_AFTER_NOT_OK


def parsed(*options: str) -> tuple[list[str], DependencyCondition]:
    args = build_parser().parse_args(["submit", "p.qasm", "--backend", "emulator", *options])
    return dependencies_from_args(args)


@pytest.mark.parametrize(
    ("options", "ids", "condition"),
    [
        pytest.param((), [], "afterok", id="none"),
        pytest.param(("--after", "a,b", "--after", "c"), ["a", "b", "c"], "afterok", id="after"),
        pytest.param(("--after", "a", "--condition", "AfterAny"), ["a"], "afterany", id="cond"),
        pytest.param(("--dependency", "afternotok:a:b"), ["a", "b"], "afternotok", id="slurm"),
        pytest.param(("--dependency=afterok:a,afterok:b",), ["a", "b"], "afterok", id="slurm-and"),
        pytest.param(
            ("--dependency", "afterany:a", "--after", "b,a", "--condition", "afterany"),
            ["b", "a"],
            "afterany",
            id="both-agree",
        ),
    ],
)
def test_after_and_slurms_dependency_give_the_same_ids_and_condition(
    options: tuple[str, ...], ids: list[str], condition: str
) -> None:
    assert parsed(*options) == (ids, DependencyCondition(condition))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--condition", "afterany"), "--condition needs the jobs to wait for: add --after ID"),
        (("--after", "a", "--condition", "after"), "--condition: unknown condition 'after'"),
        (("--after", "a,,b"), "--after 'a,,b': an empty job id"),
        (("--dependency", "singleton"), "--dependency: unknown condition 'singleton'"),
        (("--dependency", "afterok"), "expected CONDITION:ID[:ID...]"),
        (("--dependency", "afterok:a?afterany:b"), "'?' is not supported"),
        (("--dependency", "afterok:a,afterany:b"), "one condition per job"),
        (
            ("--after", "a", "--condition", "afterok", "--dependency", "afternotok:b"),
            "ask for different conditions; a job has one",
        ),
    ],
)
def test_a_wrong_dependency_is_a_usage_error_before_any_call(
    options: tuple[str, ...],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    program = str(write_program(tmp_path))
    address = f"127.0.0.1:{closed_port()}"  # nothing listens: the command must not get there
    code = main(["--address", address, "--token", "t", "submit", program, "--backend", "emulator",
                 *options])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("berth: UsageError: ") and message in err


def test_depends_on_takes_ids_job_handles_and_submitted_arrays_each_once() -> None:
    with Client(f"127.0.0.1:{closed_port()}", "t") as client:  # nothing is called
        sweep = ArraySubmission("array-1", ["j1", "j2"])
        sent = client.dependencies(["j0", client.job("j1"), sweep, "j0"], "afternotok")
        assert sent == submission_pb2.Dependencies(
            job_ids=["j0", "j1", "j2"], condition=AFTER_NOT_OK
        )
        assert client.dependencies("j0", DependencyCondition.AFTER_ANY) == (
            submission_pb2.Dependencies(job_ids=["j0"], condition=AFTER_ANY)
        )
        assert client.dependencies(client.job("j9"), "AFTEROK") == (
            submission_pb2.Dependencies(job_ids=["j9"], condition=AFTER_OK)
        )
        assert client.dependencies([], "afterok") is None  # submitted as a job without any
        with pytest.raises(ValueError, match="unknown condition 'afterwards'"):
            client.dependencies([], "afterwards")


def _waiting(**fields: object) -> JobInfo:
    info = submission_pb2.JobInfo(
        job_id="child",
        status=job_pb2.JOB_STATUS_WAITING,
        backend="emulator",
        format="qasm3",
        **fields,  # type: ignore[arg-type]  # the test's own fields of JobInfo
    )
    return JobInfo.from_pb(info)


def test_a_waiting_job_shows_what_it_waits_for_its_dependencies_and_its_array() -> None:
    info = _waiting(
        detail="waiting for 1 of 2 jobs: p2",
        dependencies=submission_pb2.Dependencies(job_ids=["p1", "p2"], condition=AFTER_ANY),
        array_id="array-7",
        array_index=3,
    )
    assert info.status is JobStatus.WAITING and not info.status.terminal
    assert (info.dependencies, info.condition) == (("p1", "p2"), DependencyCondition.AFTER_ANY)
    shown = job_details(info)
    assert "status      WAITING: waiting for 1 of 2 jobs: p2" in shown
    assert "depends on  afterany: p1, p2" in shown
    assert "array       array-7, index 3" in shown
    document = info.to_json()
    assert document["status"] == "WAITING"
    assert (document["dependencies"], document["condition"]) == (["p1", "p2"], "afterany")
    assert (document["array_id"], document["array_index"]) == ("array-7", 3)


def test_a_job_without_dependencies_or_array_shows_neither() -> None:
    info = JobInfo.from_pb(submission_pb2.JobInfo(job_id="j", status=job_pb2.JOB_STATUS_QUEUED))
    assert not any(line.startswith(("depends on", "array")) for line in job_details(info))
    document = info.to_json()
    assert (document["dependencies"], document["condition"]) == ([], None)
    assert (document["array_id"], document["array_index"]) == (None, None)


def test_many_dependencies_are_shortened_and_an_unexplained_wait_is_named() -> None:
    ids = [f"p{n}" for n in range(8)]
    info = _waiting(dependencies=submission_pb2.Dependencies(job_ids=ids))  # UNSPECIFIED
    assert info.condition is DependencyCondition.AFTER_OK
    assert status_phrase(info) == "WAITING (afterok on 8 jobs)"
    assert "depends on  afterok: p0, p1, p2, p3, p4 and 3 more (--json lists all)" in (
        job_details(info)
    )
    assert info.to_json()["dependencies"] == ids


def test_waiting_is_a_status_to_list_by() -> None:
    assert JobStatus.parse("waiting") is JobStatus.WAITING
    assert JobStatus.WAITING.to_pb() == job_pb2.JOB_STATUS_WAITING
    assert JobStatus.from_pb(job_pb2.JOB_STATUS_WAITING) is JobStatus.WAITING


def test_not_found_on_a_submission_with_dependencies_says_which_ids_it_means() -> None:
    refused = NotFoundError(grpc.StatusCode.NOT_FOUND, "job p1 not found", "SubmitJob")
    with pytest.raises(NotFoundError) as caught, dependency_hints(["p1"]):
        raise refused
    assert caught.value.message == (
        "job p1 not found; nothing was submitted (`berth list` shows your jobs)"
    )
    array = NotFoundError(grpc.StatusCode.NOT_FOUND, "array a1 not found", "GetJobArray")
    with pytest.raises(NotFoundError) as expanded, dependency_hints(["a1"]):
        raise array
    assert expanded.value.message.startswith(
        "array a1 not found (an array given to --after/--dependency); nothing was submitted"
    )
    with pytest.raises(NotFoundError) as plain, dependency_hints([]):
        raise refused
    assert plain.value is refused


# --- against a real scheduler -------------------------------------------------------------
# One system for the module: each test leaves no emulator job queued, so an agent's next job
# is always the one the test means; jobs that must never run go to `qpu`, which no agent serves.


@pytest.fixture
def berth_system(module_berth_system: BerthSystem) -> BerthSystem:
    return module_berth_system


def submit_json(cli: RunCli, program: Path, *options: str, backend: str = "emulator") -> Any:
    ran = cli("submit", str(program), "--backend", backend, *options, "--json")
    assert ran.code == 0, ran.err
    return ran.json()


def wait_json(cli: RunCli, job_id: str, exit_code: int) -> Any:
    ran = cli("wait", job_id, "--json")
    assert ran.code == exit_code, ran.err
    return ran.json()


def test_a_job_waits_for_its_parent_shown_by_status_and_list_then_runs(
    berth_system: BerthSystem, cli: RunCli, program: Path
) -> None:
    parent = submit_id(cli, program)
    child = submit_json(cli, program, "--after", parent)
    assert (child["status"], child["dependencies"], child["condition"]) == (
        "WAITING", [parent], "afterok"
    )  # fmt: skip
    assert "waiting for" in child["detail"] and parent in child["detail"]
    shown = cli("status", child["job_id"]).out
    assert "status      WAITING: waiting for" in shown
    assert f"depends on  afterok: {parent}" in shown
    waiting = [job["job_id"] for job in cli("list", "--status", "waiting", "--json").json()]
    assert child["job_id"] in waiting and parent not in waiting

    assert agent_runs_next_job(berth_system) == parent  # the waiting child was not dispatched
    assert agent_runs_next_job(berth_system) == child["job_id"]
    assert wait_json(cli, child["job_id"], 0)["status"] == "COMPLETED"


def test_a_failed_parent_cancels_its_afterok_child_and_an_afterany_child_runs(
    berth_system: BerthSystem, cli: RunCli, program: Path
) -> None:
    parent = submit_id(cli, program)
    needs_ok = submit_json(cli, program, "--after", parent)["job_id"]
    any_end = submit_json(cli, program, "--dependency", f"afterany:{parent}")["job_id"]
    assert agent_runs_next_job(berth_system, FAILURE, "boom") == parent
    cancelled = wait_json(cli, needs_ok, 1)
    assert cancelled["status"] == "CANCELLED"
    assert parent in cancelled["detail"] and "FAILED" in cancelled["detail"]
    assert agent_runs_next_job(berth_system) == any_end
    assert wait_json(cli, any_end, 0)["status"] == "COMPLETED"


def test_an_array_stands_for_each_of_its_jobs_and_an_array_can_wait_as_a_whole(
    cli: RunCli, program: Path, tmp_path: Path
) -> None:
    params = tmp_path / "params.jsonl"
    params.write_text('{"i": 0}\n{"i": 1}\n')
    sweep = submit_json(cli, program, "--array", str(params), backend="qpu")
    analysis = submit_json(cli, program, "--after", sweep["array_id"], backend="qpu")
    assert analysis["dependencies"] == sweep["job_ids"]
    later = submit_json(
        cli, program, "--array", str(params), "--after", analysis["job_id"],
        "--condition", "afterany", backend="qpu",
    )  # fmt: skip
    member = cli("status", later["job_ids"][1], "--json").json()
    assert (member["status"], member["dependencies"]) == ("WAITING", [analysis["job_id"]])
    assert (member["array_id"], member["array_index"]) == (later["array_id"], 1)
    assert f"array       {later['array_id']}, index 1" in cli("status", member["job_id"]).out

    cli("cancel", sweep["array_id"])  # afterok can no longer hold: the analysis ends
    ended = wait_json(cli, analysis["job_id"], 1)
    assert ended["status"] == "CANCELLED" and "CANCELLED" in ended["detail"]
    # afterany on the analysis: its end queues the whole later array
    poll_until(
        lambda: cli("status", later["array_id"], "--json").json()["counts"] == {"QUEUED": 2},
        30,
        "the later array to be queued",
    )
    assert cli("cancel", later["array_id"], "--json").json()["cancelled"] == 2


def test_hold_and_release_of_a_waiting_job(cli: RunCli, program: Path) -> None:
    parent = submit_id(cli, program, "--backend", "qpu")
    child = submit_json(cli, program, "--after", parent, backend="qpu")["job_id"]
    assert cli("hold", child, "--json").json()["status"] == "HELD"
    released = cli("release", child, "--json").json()
    assert (released["status"], released["dependencies"]) == ("WAITING", [parent])
    cli("cancel", parent)
    assert wait_json(cli, child, 1)["status"] == "CANCELLED"


def test_dependencies_that_cannot_be_named_or_cannot_hold_are_refused_with_nothing_stored(
    cli: RunCli, program: Path
) -> None:
    def jobs() -> int:
        return len(cli("list", "--limit", "0", "--json").json())

    before = jobs()
    unknown = cli("submit", str(program), "--backend", "qpu", "--after", "no-such-job")
    assert unknown.code == 4, unknown.err
    assert "job no-such-job not found" in unknown.err and "nothing was submitted" in unknown.err
    guests = submit_id(cli, program, "--backend", "qpu", "--role", "guest")
    foreign = cli("submit", str(program), "--backend", "qpu", "--after", guests)
    assert foreign.code == 4 and f"{guests} not found" in foreign.err  # reads as unknown
    array = cli("submit", str(program), "--backend", "qpu", "--after", f"array-{uuid.uuid4()}")
    assert array.code == 4, array.err

    ended = submit_id(cli, program, "--backend", "qpu")
    cli("cancel", ended)
    after_before = jobs()
    impossible = cli("submit", str(program), "--backend", "qpu", "--after", ended, "--json")
    assert impossible.code == 1, impossible.err
    assert impossible.json()["error"]["code"] == "FAILED_PRECONDITION"
    assert ended in impossible.err and "afterok" in impossible.err
    assert jobs() == after_before == before + 1  # only `ended` itself was stored

    satisfied = submit_json(cli, program, "--after", ended, "--condition", "afterany",
                            backend="qpu")  # fmt: skip
    assert satisfied["status"] == "QUEUED"  # already decided: queued at once
    cli("cancel", satisfied["job_id"])
