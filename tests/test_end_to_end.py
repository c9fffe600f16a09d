"""A job end to end over real sockets: client -> scheduler -> agent -> S3 -> client."""

from __future__ import annotations

import gzip

from berth.scheduler.v1 import job_pb2

from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, clients, download


def test_submit_assign_upload_report_download(berth_system: BerthSystem) -> None:
    with clients(berth_system) as (submission, execution):
        user = Submitter(submission, berth_system.tokens["developer"])
        agent = Agent(execution, berth_system.tokens["executor"])
        program = b"OPENQASM 3;\nqubit[2] q;\nh q[0];\ncx q[0], q[1];"
        job_id = user.submit(program, shots=1000)
        assert user.status(job_id).status == job_pb2.JOB_STATUS_QUEUED

        assigned = agent.assign()
        assert assigned is not None and assigned.job_id == job_id
        assert assigned.job.program.payload == program
        assert assigned.job.settings.n_shots == 1000
        assert assigned.result_upload.headers, "the URL's signed headers come with it"
        assert user.status(job_id).status == job_pb2.JOB_STATUS_RUNNING

        result = b'{"counts": {"00": 503, "11": 497}}'
        uploaded = agent.upload(assigned.result_upload, result)
        agent.report(job_id, raw=len(result), encoded=len(uploaded))

        info = user.status(job_id)
        assert info.status == job_pb2.JOB_STATUS_COMPLETED
        assert info.result_raw_bytes == len(result)
        assert info.timestamps.finished_at.seconds > 0
        links = user.result(job_id)
        downloaded = download(links.result.url)
        assert downloaded == uploaded
        assert gzip.decompress(downloaded) == result
        assert berth_system.object_tags(f"jobs/{job_id}/attempts/1/result") == {
            "role": "developer",
            "save_job": "false",
        }


def test_a_saved_job_restored_from_the_table_uploads_a_result_tagged_saved(
    berth_system: BerthSystem,
) -> None:
    """Tags come from the job, also when the queue entry was rebuilt at start-up."""
    with clients(berth_system) as (submission, _):
        job_id = Submitter(submission, berth_system.tokens["developer"]).submit(save_job=True)
    berth_system.restart()
    with clients(berth_system) as (_, execution):
        agent = Agent(execution, berth_system.tokens["executor"])
        assigned = agent.assign()
        assert assigned is not None and assigned.job_id == job_id
        agent.upload(assigned.result_upload, b"kept")
        agent.upload(assigned.log_upload, b"log")
    expected = {"role": "developer", "save_job": "true"}
    assert berth_system.object_tags(f"jobs/{job_id}/attempts/1/result") == expected
    assert berth_system.object_tags(f"jobs/{job_id}/attempts/1/log") == expected
