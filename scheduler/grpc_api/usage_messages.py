"""GetUsage's request and response <-> the usage report's domain types."""

from __future__ import annotations

from berth.scheduler.v1 import submission_pb2

from berth_common.times import to_duration
from scheduler.domain.errors import InvalidArgument
from scheduler.grpc_api.convert import timestamp
from scheduler.service.usage_report import Grouping, UsageFigures, UsageReport

GROUPING_FROM_PB: dict[submission_pb2.UsageGrouping.ValueType, Grouping] = {
    submission_pb2.USAGE_GROUPING_UNSPECIFIED: Grouping.TOTAL,
    submission_pb2.USAGE_GROUPING_BACKEND: Grouping.BACKEND,
    submission_pb2.USAGE_GROUPING_DAY: Grouping.DAY,
    submission_pb2.USAGE_GROUPING_USER: Grouping.USER,
}
GROUPING_TO_PB = {value: key for key, value in GROUPING_FROM_PB.items()}


def grouping(value: submission_pb2.UsageGrouping.ValueType) -> Grouping:
    found = GROUPING_FROM_PB.get(value)
    if found is None:
        raise InvalidArgument("by must be UNSPECIFIED (total), BACKEND, DAY or USER")
    return found


def figures(f: UsageFigures) -> submission_pb2.UsageFigures:
    return submission_pb2.UsageFigures(
        key=f.key,
        jobs=f.jobs,
        jobs_by_status=f.jobs_by_status,
        runs=f.runs,
        run_time_total=to_duration(f.run_time_total_s),
        run_time_p50=to_duration(f.run_time_p50_s),
        run_time_p95=to_duration(f.run_time_p95_s),
        dequeued=f.dequeued,
        queue_time_p50=to_duration(f.queue_time_p50_s),
        queue_time_p95=to_duration(f.queue_time_p95_s),
        bytes_in=f.bytes_in,
        bytes_out=f.bytes_out,
    )


def usage_response(report: UsageReport) -> submission_pb2.GetUsageResponse:
    return submission_pb2.GetUsageResponse(
        since=timestamp(report.since),
        until=timestamp(report.until),
        total=figures(report.total),
        groups=[figures(group) for group in report.groups],
        storage_queries=report.storage_queries,
    )
