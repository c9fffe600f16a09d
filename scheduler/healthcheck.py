"""`python -m scheduler.healthcheck TARGET [SERVICE] [TARGET [SERVICE]]...`: a container probe.

Container healthchecks run a command and read its exit status; the image has
no grpc_health_probe binary, so this is that command for Berth's processes.
A TARGET `HOST:PORT` asks that server's grpc.health.v1 service about SERVICE
(default "": the server as a whole); an `http://` or `https://` URL must answer
2xx (the AWS emulator). Several targets are all checked: the scheduler is
healthy only when both its ports are.

Exit 0 when every target is healthy, 1 otherwise (one line on stderr per
unhealthy target says which and why), 2 for bad arguments.

`--tls` (system roots) or `--tls-ca FILE` checks a scheduler started with
--tls-cert/--tls-key, as the client CLI connects; `--tls-cert`/`--tls-key` add
the client certificate an execution port with --tls-client-ca demands.

`--wait SECONDS` is for scripts that start a gRPC server and must not go on
before it serves: instead of one Check it follows the health Watch stream
until SERVING, so it returns the moment the server is ready, without polling.
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

PROG = "python -m scheduler.healthcheck"
EXIT_HEALTHY = 0
EXIT_UNHEALTHY = 1
EXIT_USAGE = 2
SERVING = health_pb2.HealthCheckResponse.SERVING
# While --wait waits for a server that is still starting, retry its port at least every
# second (gRPC's default backoff grows to minutes): the wait ends soon after it listens.
_RECONNECT_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


@dataclass(frozen=True)
class Target:
    address: str  # HOST:PORT, or an http(s) URL
    service: str = ""

    @property
    def is_http(self) -> bool:
        return self.address.startswith(("http://", "https://"))

    def __str__(self) -> str:
        return f"{self.address} {self.service}".rstrip()


class UsageError(ValueError):
    pass


def _looks_like_address(word: str) -> bool:
    """Service names are dotted identifiers; addresses and URLs always hold a colon."""
    return ":" in word


def parse_targets(words: Sequence[str]) -> list[Target]:
    """TARGET [SERVICE] pairs, e.g. `localhost:8082 berth.scheduler.v1.SubmissionService`."""
    targets: list[Target] = []
    for word in words:
        if _looks_like_address(word):
            targets.append(Target(word))
        elif targets and not targets[-1].service and not targets[-1].is_http:
            targets[-1] = Target(targets[-1].address, word)
        else:
            raise UsageError(
                f"{word!r} is not HOST:PORT or an http(s) URL, and no gRPC target before it "
                "is waiting for a service name"
            )
    if not targets:
        raise UsageError("give at least one TARGET (HOST:PORT or an http(s) URL)")
    return targets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Exit 0 when every target is healthy: a gRPC server whose health service "
        "reports SERVING (for SERVICE, default the whole server), or a URL answering 2xx.",
    )
    parser.add_argument(
        "targets", nargs="+", metavar="TARGET [SERVICE]", help="HOST:PORT [SERVICE] or a URL"
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per target (default 3)")
    tls = parser.add_argument_group("TLS (as the client CLI; plaintext without them)")
    tls.add_argument("--tls", action="store_true", help="use TLS with the system's roots")
    tls.add_argument("--tls-ca", type=Path, metavar="FILE", help="PEM roots (implies --tls)")
    tls.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM client certificate")
    tls.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM client private key")
    parser.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="gRPC targets: wait up to SECONDS in all for SERVING instead of checking once",
    )
    return parser


def channel_credentials(args: argparse.Namespace) -> grpc.ChannelCredentials | None:
    """None for plaintext; UsageError naming an unreadable file or a lone cert/key."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together: give both or neither")
    if not (args.tls or args.tls_ca or args.tls_cert):
        return None
    files: dict[str, bytes | None] = {}
    for flag, path in (
        ("--tls-ca", args.tls_ca),
        ("--tls-cert", args.tls_cert),
        ("--tls-key", args.tls_key),
    ):
        try:
            files[flag] = path.read_bytes() if path is not None else None
        except OSError as error:
            raise UsageError(f"cannot read {flag} {path}: {error.strerror}") from None
    return grpc.ssl_channel_credentials(
        root_certificates=files["--tls-ca"],
        private_key=files["--tls-key"],
        certificate_chain=files["--tls-cert"],
    )


def check_grpc(
    target: Target,
    timeout_s: float,
    wait_s: float | None,
    credentials: grpc.ChannelCredentials | None = None,
) -> str | None:
    """None when SERVING, else why not."""
    with (
        grpc.insecure_channel(target.address, options=_RECONNECT_OPTIONS)
        if credentials is None
        else grpc.secure_channel(target.address, credentials, options=_RECONNECT_OPTIONS)
    ) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service=target.service)
        try:
            if wait_s is None:
                status = stub.Check(request, timeout=timeout_s).status
            else:
                status = _watch_until_serving(stub, request, wait_s)
        except grpc.RpcError as error:
            call = cast(grpc.Call, error)  # what the synchronous stubs raise is also a Call
            return f"health check failed: {call.code().name} ({call.details()})"
    if status != SERVING:
        return f"status {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}"
    return None


def _watch_until_serving(
    stub: health_pb2_grpc.HealthStub, request: health_pb2.HealthCheckRequest, wait_s: float
) -> int:
    """The first SERVING update, or the last status seen when the stream ends."""
    status = health_pb2.HealthCheckResponse.UNKNOWN
    # wait_for_ready: a server still starting refuses connections; keep trying until then.
    for update in stub.Watch(request, timeout=wait_s, wait_for_ready=True):
        status = update.status
        if status == SERVING:
            break
    return int(status)


def check_http(target: Target, timeout_s: float) -> str | None:
    try:
        with urllib.request.urlopen(target.address, timeout=timeout_s) as response:
            code = int(response.status)
    except urllib.error.HTTPError as error:
        code = error.code
    except (urllib.error.URLError, OSError) as error:
        return f"unreachable: {getattr(error, 'reason', error)}"
    return None if 200 <= code < 300 else f"answered HTTP {code}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        targets = parse_targets(args.targets)
        credentials = channel_credentials(args)
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return EXIT_USAGE
    healthy = True
    deadline = None if args.wait is None else time.monotonic() + args.wait
    for target in targets:
        if target.is_http:
            problem = check_http(target, args.timeout)
        else:
            wait_s = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            problem = check_grpc(target, args.timeout, wait_s, credentials)
        if problem is not None:
            healthy = False
            print(f"{PROG}: {target}: {problem}", file=sys.stderr)
    return EXIT_HEALTHY if healthy else EXIT_UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
