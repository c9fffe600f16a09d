"""The client's connection: deadlines, retries across restarts, one job per submit, TLS."""

from __future__ import annotations

import datetime
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scheduler_client import (
    Client,
    DeadlineExceededError,
    JobStatus,
    RetryPolicy,
    UnavailableError,
)
from tests.berth_system import BerthSystem
from tests.client_harness import (
    RESULT,
    Relay,
    agent_in_background,
    cli_runner,
    closed_port,
)
from tests.grpc_helpers import eventually

PROGRAM = b"OPENQASM 3; qubit[2] q; h q[0];"

# Retries quickly: the tests decide when the scheduler comes back.
QUICK_RETRY = RetryPolicy(max_attempts=30, initial_backoff_s=0.05, max_backoff_s=0.2)


def submit(client: Client, **overrides: Any) -> str:
    settings: dict[str, Any] = {"format": "qasm3", "backend": "emulator", "timeout": 60}
    settings.update(overrides)
    return client.submit(PROGRAM, **settings).id


def job_ids(system: BerthSystem) -> list[str]:
    """The developer's jobs, read straight from the scheduler."""
    with Client(system.submission_address, system.tokens["developer"]) as direct:
        return [info.job_id for info in direct.list_jobs()]


# --- deadlines ----------------------------------------------------------------------------


def test_every_call_has_a_deadline() -> None:
    """A peer that accepts connections but never answers cannot hang the client."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with (
            Client(address, "token", call_timeout_s=0.5) as client,
            pytest.raises(DeadlineExceededError) as caught,
        ):
            client.job("any").status()
    assert caught.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 10  # the call's deadline, not gRPC's connect timeout


def test_a_slow_link_still_connects(berth_system: BerthSystem) -> None:
    """A handshake slower than the reconnect backoff (a distant scheduler) is not cut short."""
    with (
        Relay(berth_system.submission_address, answer_delay_s=0.6) as far_away,
        Client(
            far_away.address,
            berth_system.tokens["developer"],
            retry=RetryPolicy(max_attempts=1),
        ) as client,
    ):
        assert client.service_status("emulator").backend == "emulator"


# --- retries ------------------------------------------------------------------------------


def test_unreachable_scheduler_is_unavailable_after_retries() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, sleep=sleeps.append)
    with (
        Client(f"127.0.0.1:{closed_port()}", "token", retry=policy) as client,
        pytest.raises(UnavailableError) as caught,
    ):
        client.service_status("emulator")
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    assert caught.value.message and caught.value.method == "GetServiceStatus"
    assert len(sleeps) == 2  # three attempts, two backoffs


def test_backoff_is_exponential_capped_and_fully_jittered() -> None:
    top = RetryPolicy(initial_backoff_s=0.2, max_backoff_s=1.0, random=lambda: 0.999999)
    assert [round(top.backoff_s(n), 3) for n in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    bottom = RetryPolicy(random=lambda: 0.0)
    assert bottom.backoff_s(3) == 0.0  # full jitter: anywhere from zero to the cap


def test_submit_retries_until_a_restarted_scheduler_is_back(berth_system: BerthSystem) -> None:
    """The scheduler is down at the first attempt and is started during the first backoff."""
    backoffs: list[float] = []

    def back_off(seconds: float) -> None:
        if not backoffs:
            berth_system.start_scheduler()
        backoffs.append(seconds)
        time.sleep(seconds)  # the client's own backoff, as in production

    policy = RetryPolicy(max_attempts=30, initial_backoff_s=0.05, max_backoff_s=0.2, sleep=back_off)
    token = berth_system.tokens["developer"]
    with Client(berth_system.submission_address, token, retry=policy) as client:
        berth_system.stop_scheduler()
        job_id = submit(client)
        assert backoffs, "the first attempt should have failed while the scheduler was down"
    assert job_ids(berth_system) == [job_id]


def test_answer_lost_in_a_restart_still_makes_exactly_one_job(berth_system: BerthSystem) -> None:
    """The scheduler queues the job, restarts before its answer arrives; the retry finds it."""
    token = berth_system.tokens["developer"]
    with (
        Relay(berth_system.submission_address) as network,
        Client(network.address, token, retry=QUICK_RETRY) as client,
        ThreadPoolExecutor(1) as pool,
    ):
        client.service_status("emulator")  # connected
        network.lose_answers()
        submitting = pool.submit(submit, client)
        eventually(lambda: len(job_ids(berth_system)) == 1, what="the job to be queued")
        assert not submitting.done(), "the answer should still be on its way"
        berth_system.restart()
        network.cut()
        job_id = submitting.result(timeout=30)
        assert job_ids(berth_system) == [job_id]
        assert client.job(job_id).status().status is JobStatus.QUEUED
        # A separate submit is a separate job: the key belongs to one call.
        second = submit(client)
    assert job_ids(berth_system) == [second, job_id]


def test_idempotency_key_holds_across_a_restart(berth_system: BerthSystem) -> None:
    token = berth_system.tokens["developer"]
    with Client(berth_system.submission_address, token, retry=QUICK_RETRY) as client:
        first = submit(client, idempotency_key="experiment-42")
        berth_system.restart()
        again = submit(client, idempotency_key="experiment-42")
        assert again == first
        assert client.job(first).status().status is JobStatus.QUEUED
    assert job_ids(berth_system) == [first]


# --- TLS ----------------------------------------------------------------------------------


def _self_signed_certificate() -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


class _Forward(grpc.GenericRpcHandler):  # type: ignore[type-arg]  # generic only in the stubs
    """Passes every call through to the scheduler unchanged, as a TLS-terminating ingress."""

    def __init__(self, upstream: grpc.Channel) -> None:
        self._upstream = upstream

    def service(
        self, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[bytes, bytes] | None:
        method = details.method

        def metadata(context: grpc.ServicerContext) -> tuple[tuple[str, str | bytes], ...]:
            return tuple((k, v) for k, v in context.invocation_metadata() if k == "authorization")

        def abort(context: grpc.ServicerContext, error: grpc.RpcError) -> NoReturn:
            assert isinstance(error, grpc.Call)
            context.abort(error.code(), error.details() or "")

        if method.endswith("/WatchJob"):
            stream = self._upstream.unary_stream(method, None, None)

            def watch(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
                try:
                    yield from stream(request, metadata=metadata(context))
                except grpc.RpcError as error:
                    abort(context, error)

            return grpc.unary_stream_rpc_method_handler(watch)
        unary = self._upstream.unary_unary(method, None, None)

        def call(request: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                answer: bytes = unary(
                    request, metadata=metadata(context), timeout=context.time_remaining()
                )
            except grpc.RpcError as error:
                abort(context, error)
            return answer

        return grpc.unary_unary_rpc_method_handler(call)


@pytest.fixture
def tls_ingress(berth_system: BerthSystem, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(address, CA file): the scheduler behind a TLS endpoint with a self-signed certificate."""
    certificate, key = _self_signed_certificate()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(certificate)
    upstream = grpc.insecure_channel(berth_system.submission_address)
    server = grpc.server(ThreadPoolExecutor(4), handlers=[_Forward(upstream)])
    port = server.add_secure_port("localhost:0", grpc.ssl_server_credentials([(key, certificate)]))
    server.start()
    yield f"localhost:{port}", ca_file
    server.stop(None)
    upstream.close()


def test_tls_with_a_given_ca(
    berth_system: BerthSystem,
    tls_ingress: tuple[str, Path],
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, ca_file = tls_ingress
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_file.read_bytes())
    agent = agent_in_background(berth_system)
    with Client(address, berth_system.tokens["developer"], tls=credentials) as client:
        job = client.submit(PROGRAM, format="qasm3", backend="emulator")
        assert job.wait(timeout=30).status is JobStatus.COMPLETED
        assert job.result() == RESULT
    agent.join(10)

    cli = cli_runner(berth_system, capsysbinary, monkeypatch)
    ran = cli("--address", address, "--tls-ca", str(ca_file), "list", "--json")
    assert ran.code == 0, ran.err
    assert [job["job_id"] for job in ran.json()] == [job.id]


def test_tls_refuses_an_untrusted_certificate(
    berth_system: BerthSystem, tls_ingress: tuple[str, Path]
) -> None:
    address, _ = tls_ingress
    with (
        Client(
            address, berth_system.tokens["developer"], tls=True, retry=RetryPolicy(max_attempts=1)
        ) as client,
        pytest.raises(UnavailableError),
    ):
        client.service_status("emulator")
