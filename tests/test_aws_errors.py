"""AWS failures reach callers as one retryable error that names the service.

Unreachable and unresponsive endpoints are real sockets (a closed port, a
listener that never answers); throttling cannot be provoked from moto, so
the translation is fed the errors botocore raises for it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.resource_names import resolve_resource_names
from scheduler.blob_store.s3_blob_store import S3BlobStore
from scheduler.domain.errors import Unavailable
from scheduler.domain.jobs import JobStatus
from scheduler.job_store.dynamodb_job_store import DynamoDbJobStore

SECRET = "wJalrXUtnFEMI-not-a-real-secret"


def _settings(endpoint: str) -> AwsSettings:
    return AwsSettings(
        region="eu-west-1",
        access_key_id="AKIDEXAMPLE",
        secret_access_key=SECRET,
        endpoint=endpoint,
        connect_timeout_s=1,
        read_timeout_s=0.5,
        max_attempts=1,
    )


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts connections (the kernel's backlog does) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_every_store_is_unavailable_when_aws_is_unreachable() -> None:
    settings = _settings("http://127.0.0.1:1")
    calls: dict[str, Callable[[], object]] = {
        "DynamoDB": lambda: DynamoDbJobStore(make_client("dynamodb", settings), "t").get("j"),
        "S3": lambda: S3BlobStore(make_client("s3", settings), "b").get_input("j"),
        "SSM": lambda: resolve_resource_names(make_client("ssm", settings), "/b", "/t"),
    }
    for service, call in calls.items():
        started = time.monotonic()
        with pytest.raises(Unavailable) as raised:
            call()
        assert time.monotonic() - started < 5
        assert raised.value.message == (
            f"{service} is unavailable (unreachable); retry in a few seconds"
        )
        assert SECRET not in str(raised.value)


def test_a_listing_generator_is_unavailable_too() -> None:
    store = DynamoDbJobStore(make_client("dynamodb", _settings("http://127.0.0.1:1")), "t")
    with pytest.raises(Unavailable):
        next(store.iter_by_status(JobStatus.QUEUED))


def test_an_endpoint_that_never_answers_is_unavailable(silent_endpoint: str) -> None:
    store = DynamoDbJobStore(make_client("dynamodb", _settings(silent_endpoint)), "t")
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"DynamoDB is unavailable \(no answer in time\)"):
        store.get("j")
    assert time.monotonic() - started < 5


def _client_error(code: str, http_status: int = 400) -> ClientError:
    """What botocore raises for an error response (only the fields the translation reads)."""
    response: Any = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": http_status},
    }
    return ClientError(response, "Query")


def _raise_through(what: str, error: Exception) -> None:
    with translate_aws_errors(what):
        raise error


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    ],
)
def test_throttling_is_unavailable(code: str) -> None:
    with pytest.raises(Unavailable, match=r"^DynamoDB is unavailable \(throttled\); retry"):
        _raise_through("DynamoDB", _client_error(code))


@pytest.mark.parametrize(
    ("code", "status"),
    [("ServiceUnavailable", 503), ("InternalServerError", 500), ("", 502)],
)
def test_server_errors_are_unavailable(code: str, status: int) -> None:
    with pytest.raises(Unavailable, match=r"^S3 is unavailable \(server error"):
        _raise_through("S3", _client_error(code, status))


def test_rejected_credentials_are_unavailable_and_say_who_must_act() -> None:
    with pytest.raises(Unavailable, match="an operator must fix its AWS credentials"):
        _raise_through("SSM", _client_error("UnrecognizedClientException"))


def test_other_client_errors_pass_through_unchanged() -> None:
    error = _client_error("ConditionalCheckFailedException")
    with pytest.raises(ClientError) as raised:
        _raise_through("DynamoDB", error)
    assert raised.value is error


def test_it_works_as_a_decorator() -> None:
    @translate_aws_errors("S3")
    def throttled() -> None:
        raise _client_error("SlowDown", 503)

    with pytest.raises(Unavailable, match="S3"):
        throttled()
