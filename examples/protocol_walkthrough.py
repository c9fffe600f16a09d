"""Walk one job through Berth with nothing but the generated gRPC code (`berth`).

Plays both parts: a researcher submitting a program and fetching its result,
and an executor agent taking the job, uploading a result, and reporting.
Run it against `python -m scheduler --dev` (docs/protocol.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import grpc
import requests
from berth.scheduler.v1 import (
    execution_pb2,
    execution_pb2_grpc,
    job_pb2,
    submission_pb2,
    submission_pb2_grpc,
)
from google.protobuf.duration_pb2 import Duration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submission", default="localhost:8082")
    parser.add_argument("--execution", default="localhost:8081")
    parser.add_argument("--tokens", default=".berth/dev-tokens.json", type=Path)
    parser.add_argument(
        "--backend",
        default="qpu",
        help="a backend no real agent is polling, so that this script's agent gets the job",
    )
    args = parser.parse_args()
    tokens = json.loads(args.tokens.read_text())
    user = (("authorization", f"Bearer {tokens['developer']}"),)
    agent = (("authorization", f"Bearer {tokens['executor']}"),)
    submission = submission_pb2_grpc.SubmissionServiceStub(grpc.insecure_channel(args.submission))
    execution = execution_pb2_grpc.ExecutionServiceStub(grpc.insecure_channel(args.execution))

    # 1. The researcher submits a program.
    job = job_pb2.Job(
        program=job_pb2.Program(format="qasm3", payload=b"OPENQASM 3; qubit[2] q; h q[0];"),
        settings=job_pb2.JobSettings(
            backend=args.backend, n_shots=1000, timeout=Duration(seconds=60)
        ),
    )
    job_id = submission.SubmitJob(submission_pb2.SubmitJobRequest(job=job), metadata=user).job_id
    print("submitted", job_id)

    # 2. An agent takes it, uploads a gzip result with the signed headers, and reports.
    reply = execution.AssignNextJob(
        execution_pb2.AssignNextJobRequest(
            backend=args.backend, agent_id="walkthrough", wait=Duration(seconds=5)
        ),
        metadata=agent,
    )
    if not reply.HasField("assigned") or reply.assigned.job_id != job_id:
        sys.exit(
            f"another agent polling backend {args.backend!r} took the job first; "
            "stop it or pass --backend with a backend nobody serves"
        )
    assigned = reply.assigned
    result = json.dumps({"counts": {"00": 512, "10": 488}}).encode()
    encoded = gzip.compress(result)
    target = assigned.result_upload
    requests.put(
        target.url, data=encoded, headers=dict(target.headers), timeout=30
    ).raise_for_status()
    execution.ReportExecutionResult(
        execution_pb2.ReportExecutionResultRequest(
            job_id=assigned.job_id,
            agent_id="walkthrough",
            outcome=execution_pb2.EXECUTION_OUTCOME_SUCCESS,
            result_raw_bytes=len(result),
            result_encoded_bytes=len(encoded),
        ),
        metadata=agent,
    )

    # 3. The researcher checks the status and downloads the result.
    status = submission.GetJobStatus(
        submission_pb2.GetJobStatusRequest(job_id=job_id), metadata=user
    )
    print("status", job_pb2.JobStatus.Name(status.status))
    link = submission.GetJobResult(submission_pb2.GetJobResultRequest(job_id=job_id), metadata=user)
    downloaded = requests.get(link.result.url, timeout=30).content
    print("result", gzip.decompress(downloaded).decode())


if __name__ == "__main__":
    main()
