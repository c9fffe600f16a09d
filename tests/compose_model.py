"""docker-compose.yml read the way Docker would run it, without a Docker engine.

Each service's command is handed to the real argument parser of the module it
runs (in-process: nothing starts, nothing binds), and what the parse says —
ports it listens on, host:port pairs it connects to, token files it reads or
writes — becomes a `Wiring` the tests compare across services. `LoopbackPlan`
turns the same commands into ones that run on this machine: service host names
become 127.0.0.1, container ports free loopback ports, the tokens volume a
temporary directory.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import moto.server
import yaml  # type: ignore[import-untyped]  # PyYAML comes with moto, its stubs do not

from dashboard.config import parse_args as parse_dashboard_args
from executor_agent.config import parse_config
from scheduler.admin.cli import build_parser as admin_parser
from scheduler.aws.__main__ import build_parser as provision_parser
from scheduler.config import load_config
from scheduler.healthcheck import build_parser as healthcheck_parser
from scheduler.healthcheck import parse_targets
from scheduler_client.cli.main import build_parser as client_parser
from token_database.cli import build_parser as token_database_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ALL_INTERFACES = frozenset({"0.0.0.0", "[::]", "::"})


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml must be a mapping"
    return document


def words(value: object) -> list[str]:
    """A compose command, entrypoint or healthcheck: a list, or a string split like a shell."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    assert isinstance(value, list), f"expected a list or a string, got {value!r}"
    return [str(word) for word in value]


def service_argv(service: Mapping[str, Any]) -> list[str]:
    return words(service.get("entrypoint")) + words(service.get("command"))


def service_environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def healthcheck_argv(service: Mapping[str, Any]) -> list[str]:
    test = words((service.get("healthcheck") or {}).get("test"))
    assert test[:1] == ["CMD"], f"healthcheck must be an exec-form CMD list, got {test!r}"
    return test[1:]


def module_of(argv: Sequence[str]) -> tuple[str, list[str]]:
    """`python -m MODULE ARGS...` -> (MODULE, ARGS)."""
    assert list(argv[:2]) == ["python", "-m"] and len(argv) >= 3, (
        f"every command runs `python -m MODULE ...` from the image's environment: {argv!r}"
    )
    return argv[2], list(argv[3:])


def is_runnable_module(name: str) -> bool:
    """`python -m name` would run something: a module, or a package with __main__."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        return False
    if spec.submodule_search_locations is None:
        return True
    return importlib.util.find_spec(f"{name}.__main__") is not None


def host_port(address: str) -> tuple[str, int]:
    if "://" in address:
        parts = urlsplit(address)
        assert parts.hostname is not None and parts.port is not None, address
        return parts.hostname, parts.port
    host, _, port = address.rpartition(":")
    return host, int(port)


@dataclass
class Wiring:
    """What one command does on the network and with the tokens volume."""

    listens: set[int] = field(default_factory=set)
    binds_all_interfaces: bool = True
    connects: list[tuple[str, int]] = field(default_factory=list)
    reads_tokens: str | None = None
    writes_tokens: str | None = None
    files: list[str] = field(default_factory=list)  # repository paths the command runs


def _moto_server(args: list[str], env: Mapping[str, str]) -> Wiring:
    bound: dict[str, Any] = {}

    def run_simple(host: str, port: int, *_: object, **__: object) -> None:
        bound.update(host=host, port=port)

    # moto.server.main parses, then serves forever and installs signal handlers: stop it there.
    with (
        mock.patch.object(moto.server, "run_simple", run_simple),
        mock.patch.object(signal, "signal"),
        mock.patch.dict(os.environ, {"MOTO_PORT": "1"}),
    ):
        moto.server.main(args)
    return Wiring(listens={bound["port"]}, binds_all_interfaces=bound["host"] in ALL_INTERFACES)


def _provision(args: list[str], env: Mapping[str, str]) -> Wiring:
    parsed = provision_parser().parse_args(args)
    assert parsed.command == "provision"
    tokens = str(parsed.tokens_file) if parsed.tokens_file else None
    return Wiring(connects=[host_port(parsed.endpoint)], writes_tokens=tokens)


def _token_database(args: list[str], env: Mapping[str, str]) -> Wiring:
    parsed = token_database_parser().parse_args(args)
    assert parsed.command == "serve", "the token database service must serve"
    host, port = host_port(parsed.address)
    return Wiring(
        listens={port},
        binds_all_interfaces=host in ALL_INTERFACES,
        connects=[host_port(parsed.endpoint)],
    )


def _scheduler(args: list[str], env: Mapping[str, str]) -> Wiring:
    if args[:1] == ["admin"]:  # operator commands, not the server
        parsed = admin_parser().parse_args(args[1:])
        return Wiring(connects=[host_port(parsed.address)], reads_tokens=parsed.token_file)
    config = load_config(args, env=env)
    ports = {config.port_for_submission, config.port_for_execution, config.metrics_port}
    return Wiring(
        listens={port for port in ports if port > 0},
        binds_all_interfaces=config.bind_host in ALL_INTERFACES,
        connects=[
            host_port(config.endpoint or "http://aws-not-set:0"),
            host_port(config.address_to_token_database),
        ],
    )


def _agent(args: list[str], env: Mapping[str, str]) -> Wiring:
    config = parse_config(args, environ=env)
    return Wiring(
        connects=[host_port(config.scheduler)],
        reads_tokens=str(config.token_file),
        files=[word for word in config.command if word.endswith(".py")],
    )


def _client(args: list[str], env: Mapping[str, str]) -> Wiring:
    parsed = client_parser().parse_args(args)
    return Wiring(connects=[host_port(parsed.address)], reads_tokens=parsed.token_file)


def _dashboard(args: list[str], env: Mapping[str, str]) -> Wiring:
    config = parse_dashboard_args(args, env)
    return Wiring(
        listens={config.port},
        binds_all_interfaces=config.host in ALL_INTERFACES,
        connects=[host_port(config.scheduler)],
    )


def _healthcheck(args: list[str], env: Mapping[str, str]) -> Wiring:
    parsed = healthcheck_parser().parse_args(args)
    return Wiring(connects=[host_port(target.address) for target in parse_targets(parsed.targets)])


INTERPRETERS: dict[str, Callable[[list[str], Mapping[str, str]], Wiring]] = {
    "moto.server": _moto_server,
    "scheduler.aws": _provision,
    "token_database": _token_database,
    "scheduler": _scheduler,
    "executor_agent": _agent,
    "scheduler_client": _client,
    "scheduler.healthcheck": _healthcheck,
    "dashboard": _dashboard,
}


def wiring(argv: Sequence[str], env: Mapping[str, str]) -> Wiring:
    """Parse `argv` with its module's own parser; fails on an unknown module or a bad flag."""
    module, args = module_of(argv)
    assert module in INTERPRETERS, f"no interpreter for `python -m {module}`: add one"
    try:
        return INTERPRETERS[module](args, env)
    except SystemExit as exit_:  # argparse refused the arguments (or printed --help)
        raise AssertionError(f"`python -m {module}` exits {exit_.code} on {args!r}") from None


class LoopbackPlan:
    """The compose commands, rewritten to run as local processes side by side."""

    def __init__(self, service_names: Sequence[str], ports: Mapping[int, int], volume: Path):
        self._hosts = {*service_names, "localhost", *ALL_INTERFACES}
        self._ports = dict(ports)
        self._volume = volume

    def _address(self, match: re.Match[str]) -> str:
        host, port = match.group(1), int(match.group(2))
        if host in self._hosts and port in self._ports:
            return f"127.0.0.1:{self._ports[port]}"
        return match.group(0)

    def word(self, word: str) -> str:
        if word == "python":
            return sys.executable
        if word in ALL_INTERFACES:
            return "127.0.0.1"
        if word.isdigit() and int(word) in self._ports:
            return str(self._ports[int(word)])
        word = word.replace("/berth/tokens", str(self._volume))
        return re.sub(r"(\[::\]|[A-Za-z0-9_.-]+):(\d+)", self._address, word)

    def argv(self, argv: Sequence[str]) -> list[str]:
        return [self.word(word) for word in argv]

    def port(self, container_port: int) -> int:
        return self._ports[container_port]
