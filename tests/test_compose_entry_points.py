"""The entry points written for docker-compose.yml: the init's provisioning and the probe."""

from __future__ import annotations

import json
import logging
import socket
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from scheduler.aws.__main__ import main as aws_main
from scheduler.aws.aws_settings import AwsSettings, make_client
from scheduler.aws.table_definitions import JOB_EXPIRY, job_index_names
from scheduler.backend_status.backend_status import Availability, parse_backend_status
from scheduler.domain.jobs import Role
from scheduler.healthcheck import main as probe
from tests.conftest import REGION
from token_database.registry import TokenRegistry
from token_database.token_store import DynamoDbTokenStore

SERVICE = "berth.test.v1.Probed"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures the root logger, as an entry point should; undo it after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _provision_args(tokens_file: Path | None) -> list[str]:
    args = ["provision", "--region", REGION, "--table", "t-jobs", "--bucket", "t-jobs-bucket"]
    args += ["--token-table", "t-tokens", "--job_bucket_name_key", "/t/bucket"]
    args += ["--job_table_name_key", "/t/table", "--backend_status_parameter_name", "/t/status"]
    args += ["--backends", "emulator,qpu"]
    return args + (["--tokens-file", str(tokens_file)] if tokens_file else [])


def test_provision_creates_storage_and_a_live_token_per_role(
    aws: None, restore_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens_file = tmp_path / "volume" / "dev-tokens.json"
    assert aws_main(_provision_args(tokens_file)) == 0

    settings = AwsSettings(region=REGION)
    dynamodb = make_client("dynamodb", settings)
    table = dynamodb.describe_table(TableName="t-jobs")["Table"]
    assert {gsi["IndexName"] for gsi in table["GlobalSecondaryIndexes"]} == set(job_index_names())
    ttl = dynamodb.describe_time_to_live(TableName="t-jobs")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", JOB_EXPIRY)
    make_client("s3", settings).head_bucket(Bucket="t-jobs-bucket")
    ssm = make_client("ssm", settings)
    values = {
        p["Name"]: p["Value"]
        for p in ssm.get_parameters(Names=["/t/bucket", "/t/table", "/t/status"])["Parameters"]
    }
    assert (values["/t/bucket"], values["/t/table"]) == ("t-jobs-bucket", "t-jobs")
    status = parse_backend_status(values["/t/status"])
    assert set(status) == {"emulator", "qpu"}
    assert all(
        status[b][role].availability is Availability.AVAILABLE for b in status for role in Role
    )

    tokens = json.loads(tokens_file.read_text())
    assert set(tokens) == {role.value for role in Role}
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    registry = TokenRegistry(DynamoDbTokenStore(dynamodb, "t-tokens"))
    assert {role: registry.verify(token).role for role, token in tokens.items()} == {
        role: role for role in tokens
    }
    printed = capsys.readouterr()
    assert not any(token in printed.out + printed.err for token in tokens.values())

    # Every `docker compose up` runs the init again: live tokens are kept ...
    assert aws_main(_provision_args(tokens_file)) == 0
    assert json.loads(tokens_file.read_text()) == tokens
    # ... and one the token table no longer knows is replaced, alone.
    registry.delete(registry.verify(tokens["executor"]).token_id)
    assert aws_main(_provision_args(tokens_file)) == 0
    renewed = json.loads(tokens_file.read_text())
    assert renewed["executor"] != tokens["executor"]
    assert registry.verify(renewed["executor"]).role == "executor"
    assert {r: t for r, t in renewed.items() if r != "executor"} == {
        r: t for r, t in tokens.items() if r != "executor"
    }


def test_provision_writes_a_status_file_only_when_it_parses(
    aws: None, restore_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status_file = tmp_path / "backends.toml"
    status_file.write_text('[backends.qpu]\nstatus = "available"\n')
    args = ["provision", "--region", REGION, "--backend-status-file", str(status_file)]
    assert aws_main(args) == 2
    assert f"--backend-status-file {status_file}" in capsys.readouterr().err
    status_file.write_text('[backends.qpu.developer]\nstatus = "maintenance"\n')
    assert aws_main(args) == 0
    ssm = make_client("ssm", AwsSettings(region=REGION))
    document = ssm.get_parameter(Name="/berth/backend_status")["Parameter"]["Value"]
    assert parse_backend_status(document)["qpu"][Role.DEVELOPER].availability is (
        Availability.MAINTENANCE
    )


def test_provision_without_a_region_says_how_to_give_one(
    aws: None,
    restore_logging: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert aws_main(["provision"]) == 2
    assert "--region" in capsys.readouterr().err


# -- the probe ---------------------------------------------------------------------------


@pytest.fixture
def health_server() -> Iterator[tuple[str, Any]]:
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", servicer
    server.stop(None)


def test_probe_passes_only_when_every_service_serves(
    health_server: tuple[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    address, servicer = health_server
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    servicer.set("other", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert probe([address]) == 0
    assert probe([address, SERVICE]) == 0
    assert probe([address, SERVICE, address, "other"]) == 1
    assert f"{address} other: status NOT_SERVING" in capsys.readouterr().err
    assert probe([address, "unknown.Service"]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def test_probe_wait_returns_once_the_service_serves(health_server: tuple[str, Any]) -> None:
    address, servicer = health_server
    servicer.set(SERVICE, health_pb2.HealthCheckResponse.NOT_SERVING)
    assert probe([address, SERVICE, "--wait", "0.3"]) == 1  # the deadline, still not serving
    results: list[int] = []
    waiting = threading.Thread(
        target=lambda: results.append(probe([address, SERVICE, "--wait", "20"]))
    )
    waiting.start()
    servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    waiting.join(25)
    assert results == [0]


def test_probe_fails_when_nothing_answers(capsys: pytest.CaptureFixture[str]) -> None:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        assert probe([f"127.0.0.1:{port}"]) == 1
        assert "UNAVAILABLE" in capsys.readouterr().err
        assert probe([f"http://127.0.0.1:{port}/"]) == 1
        assert "unreachable" in capsys.readouterr().err


def test_probe_checks_http_endpoints(moto_endpoint: str) -> None:
    assert probe([f"{moto_endpoint}/"]) == 0


def test_probe_refuses_a_target_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe(["berth.scheduler.v1.SubmissionService"]) == 2
    assert "not HOST:PORT" in capsys.readouterr().err
