"""The job store the scheduler runs with, chosen in one place."""

from __future__ import annotations

from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore
from scheduler.job_store.job_store import JobStore


def make_job_store(settings: AwsSettings, table_name: str, *, retention_days: int = 31) -> JobStore:
    return DynamoDbJobStore(
        make_client("dynamodb", settings), table_name, retention_days=retention_days
    )
