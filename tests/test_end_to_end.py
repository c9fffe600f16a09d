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
