"""TLS on both scheduler ports, and client certificates required from agents.

Tokens travel in every call's metadata, so a deployment beyond loopback runs
with --tls-cert/--tls-key; with --tls-client-ca the execution port also
refuses agents without a certificate from that CA.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from berth.scheduler.v1 import job_pb2

from scheduler.config import ConfigError, load_config
from scheduler.healthcheck import main as healthcheck
from tests.agent_process import AgentProcess
from tests.berth_system import BerthSystem
from tests.grpc_helpers import Agent, Submitter, rpc_error
from tests.tls_material import CertificateAuthority, PemPair


@pytest.fixture
def tls_system(
    make_berth_system: Callable[..., BerthSystem], tmp_path: Path
) -> tuple[BerthSystem, CertificateAuthority, PemPair]:
    server_ca = CertificateAuthority(tmp_path, "server-ca")
    agent_ca = CertificateAuthority(tmp_path, "agent-ca")
    server = server_ca.issue("scheduler", server=True)
    agent = agent_ca.issue("qpu-host-1", server=False)
    system = make_berth_system(
        tls_cert=server.cert, tls_key=server.key, tls_client_ca=agent_ca.files.cert
    )
    return system, server_ca, agent


def _secure(address: str, ca: Path, client: PemPair | None = None) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=client.key.read_bytes() if client else None,
        certificate_chain=client.cert.read_bytes() if client else None,
    )
    return grpc.secure_channel(address, credentials)


def test_clients_and_agents_work_over_tls(
    tls_system: tuple[BerthSystem, CertificateAuthority, PemPair],
) -> None:
    system, server_ca, agent_pair = tls_system
    with (
        _secure(system.submission_address, server_ca.files.cert) as submission,
        _secure(system.execution_address, server_ca.files.cert, agent_pair) as execution,
    ):
        user = Submitter(submission, system.tokens["developer"])
        job_id = user.submit()
        agent = Agent(execution, system.tokens["executor"])
        assert agent.run(b"over tls") == job_id
        assert user.status(job_id).status == job_pb2.JOB_STATUS_COMPLETED


def test_plaintext_and_certificate_less_agents_are_refused(
    tls_system: tuple[BerthSystem, CertificateAuthority, PemPair],
) -> None:
    system, server_ca, _ = tls_system
    with grpc.insecure_channel(system.submission_address) as plain:
        refused = rpc_error(lambda: Submitter(plain, system.tokens["developer"]).submit())
        assert refused.code() == grpc.StatusCode.UNAVAILABLE
    with _secure(system.execution_address, server_ca.files.cert) as no_client_cert:
        agent = Agent(no_client_cert, system.tokens["executor"])
        refused = rpc_error(lambda: agent.assign(wait_s=0))
        assert refused.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_flags_are_checked_at_start_up(tmp_path: Path) -> None:
    pair = CertificateAuthority(tmp_path, "ca").issue("scheduler", server=True)
    with pytest.raises(ConfigError, match="--tls-cert and --tls-key go together"):
        load_config(["--tls-cert", str(pair.cert)], env={})
    with pytest.raises(ConfigError, match="--tls-key="):
        load_config(["--tls-cert", str(pair.cert), "--tls-key", str(tmp_path / "missing")], env={})
    with pytest.raises(ConfigError, match="--tls-client-ca needs"):
        load_config(["--tls-client-ca", str(pair.cert)], env={})
    config = load_config(["--tls-cert", str(pair.cert), "--tls-key", str(pair.key)], env={})
    assert config.tls_files is not None and config.tls_files.client_ca is None


def test_an_agent_process_with_its_client_certificate_runs_a_job(
    tls_system: tuple[BerthSystem, CertificateAuthority, PemPair],
) -> None:
    system, server_ca, agent_pair = tls_system
    agent = AgentProcess(
        system,
        "--tls-ca",
        str(server_ca.files.cert),
        "--tls-cert",
        str(agent_pair.cert),
        "--tls-key",
        str(agent_pair.key),
        "--",
        sys.executable,
        "examples/echo_program.py",
        "{input}",
        "{output}",
    )
    try:
        with _secure(system.submission_address, server_ca.files.cert) as submission:
            user = Submitter(submission, system.tokens["developer"])
            job_id = user.submit()
            agent.wait_for("completed", job_id)
            assert user.status(job_id).status == job_pb2.JOB_STATUS_COMPLETED
    finally:
        agent.stop()


def test_healthcheck_checks_a_tls_scheduler(
    tls_system: tuple[BerthSystem, CertificateAuthority, PemPair],
    capsys: pytest.CaptureFixture[str],
) -> None:
    system, server_ca, agent_pair = tls_system
    ca = str(server_ca.files.cert)
    client = ["--tls-cert", str(agent_pair.cert), "--tls-key", str(agent_pair.key)]
    targets = [system.submission_address, system.execution_address]
    assert healthcheck([*targets, "--tls-ca", ca, *client]) == 0
    # Without TLS options a TLS port is not healthy, and the output says why.
    assert healthcheck([system.submission_address, "--timeout", "1"]) == 1
    assert system.submission_address in capsys.readouterr().err
