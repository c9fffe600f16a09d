"""`python -m dashboard` options: where to listen, which scheduler, TLS both ways, sessions.

Each option also reads an environment variable (the flag wins), as the other
Berth processes do, so a container sets them in its environment.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8080
DEFAULT_SCHEDULER = "localhost:8082"


@dataclass(frozen=True)
class DashboardConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    scheduler: str = DEFAULT_SCHEDULER
    scheduler_tls: bool = False
    scheduler_tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    backends: tuple[str, ...] = ()
    tls_proxy: bool = False  # HTTPS ends at a proxy in front: cookies are still Secure
    session_idle_minutes: float = 60.0
    session_max_hours: float = 12.0
    log_format: str = "text"

    @property
    def serves_tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def secure_cookies(self) -> bool:
        return self.serves_tls or self.tls_proxy


class ConfigError(Exception):
    pass


def parse_args(argv: Sequence[str], env: Mapping[str, str] | None = None) -> DashboardConfig:
    environ = os.environ if env is None else env

    def _env(name: str, default: str) -> str:
        return environ.get(name, "").strip() or default

    parser = argparse.ArgumentParser(
        prog="python -m dashboard",
        description="Berth's web dashboard. It talks to the scheduler's submission port only, "
        "as the signed-in user; it needs no AWS credentials.",
    )
    add = parser.add_argument
    add(
        "--host",
        default=_env("DASHBOARD_HOST", "127.0.0.1"),
        help="address to listen on (env DASHBOARD_HOST; 0.0.0.0 in a container)",
    )
    add(
        "--port",
        type=int,
        default=int(_env("DASHBOARD_PORT", str(DEFAULT_PORT))),
        help=f"HTTP(S) port (env DASHBOARD_PORT; default {DEFAULT_PORT}; 0 = any free port)",
    )
    add(
        "--scheduler",
        default=_env("BERTH_ADDRESS", DEFAULT_SCHEDULER),
        help=f"the scheduler's submission address (env BERTH_ADDRESS; default {DEFAULT_SCHEDULER})",
    )
    add(
        "--scheduler-tls",
        action="store_true",
        default=_env("DASHBOARD_SCHEDULER_TLS", "") == "1",
        help="reach the scheduler over TLS with the system's roots (env DASHBOARD_SCHEDULER_TLS=1)",
    )
    add(
        "--scheduler-tls-ca",
        default=_env("DASHBOARD_SCHEDULER_TLS_CA", ""),
        metavar="FILE",
        help="PEM roots to trust for the scheduler (implies --scheduler-tls)",
    )
    add(
        "--tls-cert",
        default=_env("DASHBOARD_TLS_CERT", ""),
        metavar="FILE",
        help="PEM certificate (chain) to serve HTTPS with; with --tls-key",
    )
    add(
        "--tls-key",
        default=_env("DASHBOARD_TLS_KEY", ""),
        metavar="FILE",
        help="PEM private key for --tls-cert",
    )
    add(
        "--tls-proxy",
        action="store_true",
        default=_env("DASHBOARD_TLS_PROXY", "") == "1",
        help="a proxy in front terminates HTTPS: mark cookies Secure (env DASHBOARD_TLS_PROXY=1)",
    )
    add(
        "--backends",
        default=_env("DASHBOARD_BACKENDS", ""),
        help="comma-separated backends the overview lists for non-admins (admins see all)",
    )
    add(
        "--session-idle-minutes",
        type=float,
        default=float(_env("DASHBOARD_SESSION_IDLE_MINUTES", "60")),
        help="a session ends after this long without a request (default 60)",
    )
    add(
        "--session-max-hours",
        type=float,
        default=float(_env("DASHBOARD_SESSION_MAX_HOURS", "12")),
        help="and at the latest this long after sign-in (default 12)",
    )
    add("--log-format", choices=("text", "json"), default=_env("DASHBOARD_LOG_FORMAT", "text"))
    args = parser.parse_args(list(argv))
    return _checked(args)


def _file(value: str, flag: str) -> Path | None:
    if not value:
        return None
    path = Path(value)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ConfigError(f"{flag} {value}: not a readable file")
    return path


def _checked(args: argparse.Namespace) -> DashboardConfig:
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: use 0..65535")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together: give both or neither")
    if args.session_idle_minutes <= 0 or args.session_max_hours <= 0:
        raise ConfigError("--session-idle-minutes and --session-max-hours must be positive")
    ca = _file(args.scheduler_tls_ca, "--scheduler-tls-ca")
    return DashboardConfig(
        host=args.host,
        port=args.port,
        scheduler=args.scheduler,
        scheduler_tls=args.scheduler_tls or ca is not None,
        scheduler_tls_ca=ca,
        tls_cert=_file(args.tls_cert, "--tls-cert"),
        tls_key=_file(args.tls_key, "--tls-key"),
        backends=tuple(b.strip() for b in args.backends.split(",") if b.strip()),
        tls_proxy=args.tls_proxy,
        session_idle_minutes=args.session_idle_minutes,
        session_max_hours=args.session_max_hours,
        log_format=args.log_format,
    )
