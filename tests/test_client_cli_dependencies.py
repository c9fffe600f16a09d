"""Dependencies on the client's side: what `--after`/`--dependency` and `depends_on` send,
how a WAITING job is shown, and what a refused command line says (exit 2, before any call).

The scheduler's side of the same words is proven against a real system in
tests/test_client_cli_dependencies.py and with real processes in
tests/test_dependencies_processes.py.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from berth.scheduler.v1 import job_pb2, submission_pb2

from scheduler_client import Client, DependencyCondition, JobStatus, NotFoundError
from scheduler_client.cli.dependency_options import dependencies_from_args, dependency_hints
from scheduler_client.cli.formatting import job_details, status_phrase
from scheduler_client.cli.main import build_parser, main
from scheduler_client.job_array import ArraySubmission
from scheduler_client.job_info import JobInfo
from tests.client_harness import closed_port, write_program

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
    assert caught.value.message.startswith("job p1 not found (--after/--dependency name your own")
    assert caught.value.message.endswith("nothing was submitted")
    with pytest.raises(NotFoundError) as plain, dependency_hints([]):
        raise refused
    assert plain.value is refused
