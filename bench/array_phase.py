"""Job arrays: jobs per second when a sweep is sent as 100-job arrays, one at a time.

Compared with `submit 100 B C=1` (one job per SubmitJob, one client): the
array's records share a few batch writes instead of one write round per job.
"""

from __future__ import annotations

from dataclasses import replace

from berth.scheduler.v1 import submission_pb2

from bench.measurements import Row
from bench.rpc_clients import CALL_TIMEOUT_S, submit_request
from bench.service_phases import SMALL_PAYLOAD, clients, measured
from bench.stack import SystemUnderTest

ARRAY_JOBS = 100


def array_request(backend: str) -> submission_pb2.SubmitJobArrayRequest:
    return submission_pb2.SubmitJobArrayRequest(
        job=submit_request(SMALL_PAYLOAD, backend).job,
        parameter_sets=[
            submission_pb2.ParameterSet(parameters={"theta": str(i)}) for i in range(ARRAY_JOBS)
        ],
    )


def array_phase(stack: SystemUnderTest, arrays: int) -> Row:
    """`arrays` arrays sent back to back; counted in jobs (p50/p99 are per array call)."""
    request = array_request("bench-submit")  # a backend the stack declares
    with clients(stack, 1) as (client,):

        def submit(_: int) -> None:
            reply = client.stub.SubmitJobArray(
                request, metadata=client.metadata, timeout=CALL_TIMEOUT_S
            )
            assert len(reply.job_ids) == ARRAY_JOBS

        row = measured(stack, f"submit array of {ARRAY_JOBS} C=1", 1, arrays, lambda _: submit)

    def per_job(cpu: float | None) -> float | None:
        return None if cpu is None else cpu / ARRAY_JOBS

    return replace(
        row,
        ops=row.ops * ARRAY_JOBS,
        rate_per_s=row.rate_per_s * ARRAY_JOBS,
        cpu_s_per_1k=per_job(row.cpu_s_per_1k),
        emulator_cpu_s_per_1k=per_job(row.emulator_cpu_s_per_1k),
    )
