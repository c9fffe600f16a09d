"""How the scheduler reaches AWS (or an emulator standing in for it).

Every boto3 client is made here so that retries and timeouts are the same
everywhere: a call either succeeds within a bounded time or fails so that
`translate_aws_errors` can turn it into a retryable UNAVAILABLE, instead of a
request thread hanging on a dead endpoint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
import botocore
from botocore.config import Config

from scheduler import __version__

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_ssm.client import SSMClient


@dataclass(frozen=True)
class AwsSettings:
    """None means "let boto3 decide" (environment, profile, instance role).

    `s3_endpoint` overrides `endpoint` for S3 only: presigned URLs carry the
    S3 endpoint's host, so it must be one that agents and clients can reach.
    """

    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    endpoint: str | None = None
    s3_endpoint: str | None = None
    # A dead endpoint must cost a caller seconds, not botocore's default minutes:
    # a refused connection fails within the ~3 s of retry backoff, a dropped one
    # within ~9 s (3 x 2 s connect), a silent server within ~15 s (3 x 4 s read).
    # DynamoDB answers in milliseconds, S3 within a second once the body is sent.
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 4.0
    max_attempts: int = 3  # total attempts, the first included (botocore "standard" mode)
    # Connections each client keeps open. A client is shared by every worker thread of
    # both blocking-I/O pools; with fewer connections than threads, urllib3 opens a new
    # connection for each call over the limit and drops it after ("Connection pool is
    # full"), a TCP handshake per call. The scheduler sets this to its thread count.
    max_pool_connections: int = 10

    def endpoint_for(self, service: str) -> str | None:
        if service == "s3" and self.s3_endpoint:
            return self.s3_endpoint
        return self.endpoint


def make_boto3_session(settings: AwsSettings) -> boto3.Session:
    """A fresh session: sessions are not thread-safe, the clients made from them are."""
    return boto3.Session(
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        region_name=settings.region,
    )


# A fixed User-Agent: botocore otherwise assembles and sanitises its default one
# twice per request (about 7% of the scheduler's CPU under load), to say the same
# thing every time. This one also tells Berth's requests apart in CloudTrail.
USER_AGENT = f"berth-scheduler/{__version__} botocore/{botocore.__version__}"


def client_config(service: str, settings: AwsSettings) -> Config:
    options: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": settings.max_attempts},
        "connect_timeout": settings.connect_timeout_s,
        "read_timeout": settings.read_timeout_s,
        "max_pool_connections": settings.max_pool_connections,
        # Every request is built by Berth's own code from typed values (checked by mypy
        # against boto3-stubs), and AWS validates each request again on arrival, so
        # botocore's client-side walk over the request against the service model
        # (about 9% of the scheduler's CPU under load) finds nothing; it is skipped.
        "parameter_validation": False,
        "user_agent": USER_AGENT,
    }
    if service == "s3":
        # SigV4 so presigned URLs sign their headers (Content-Type included);
        # path-style because an emulator on 127.0.0.1:port has no bucket subdomains.
        options["signature_version"] = "s3v4"
        if settings.endpoint_for("s3"):
            options["s3"] = {"addressing_style": "path"}
    return Config(**options)


@overload
def make_client(service: Literal["dynamodb"], settings: AwsSettings) -> DynamoDBClient: ...
@overload
def make_client(service: Literal["s3"], settings: AwsSettings) -> S3Client: ...
@overload
def make_client(service: Literal["ssm"], settings: AwsSettings) -> SSMClient: ...
def make_client(service: str, settings: AwsSettings) -> Any:
    """A client with Berth's retries and timeouts. Clients are thread-safe; share them."""
    with _sessions_lock:
        key = (settings.region, settings.access_key_id, settings.secret_access_key)
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = make_boto3_session(settings)
        # Creating a client from a shared session is not thread-safe, hence inside the lock.
        return session.client(  # type: ignore[call-overload]
            service,
            endpoint_url=settings.endpoint_for(service),
            config=client_config(service, settings),
        )


# One session per credential set: a session caches the parsed service models,
# which makes every client after the first ~10x cheaper to create.
_sessions: dict[tuple[str | None, str | None, str | None], boto3.Session] = {}
_sessions_lock = threading.Lock()
