"""Agent options: every flag has an environment variable, for containers and systemd units.

Precedence is flag > environment variable > default. Everything is checked
before the agent connects, and a bad value raises ConfigError naming both the
flag and the variable, so `systemctl status` shows one line that says what to fix.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

from berth_common.option_values import parse_bool, readable_file

MIB = 1024 * 1024
RUNNERS = ("command", "python", "docker")
ENV_PREFIX = "BERTH_AGENT_"


class ConfigError(ValueError):
    """A bad or missing option; the message names it and says what is expected."""


@dataclass(frozen=True)
class DockerOptions:
    image: str | None = None
    allowed_images: tuple[str, ...] = ()
    image_parameter: str = "image"
    command: tuple[str, ...] = ()
    network: str | None = None
    keep_containers: bool = False


@dataclass(frozen=True)
class AgentConfig:
    scheduler: str
    backend: str
    token_file: Path
    runner: str = "command"
    agent_id: str | None = None
    actual_backend: str | None = None
    slots: int = 1
    gpus: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    python_function: str | None = None
    python_path: tuple[Path, ...] = ()
    docker_image: str | None = None
    docker_allowed_images: tuple[str, ...] = ()
    docker_image_parameter: str = "image"
    docker_command: tuple[str, ...] = ()
    docker_network: str | None = None
    keep_containers: bool = False
    runner_version: str | None = None
    grace_seconds: float = 60.0
    kill_grace_seconds: float = 5.0
    poll_wait_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    work_dir: Path | None = None
    log_limit_bytes: int = MIB
    upload_attempts: int = 4
    log_format: str = "text"
    tls: bool = False
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def uses_tls(self) -> bool:
        return self.tls or self.tls_ca is not None

    @property
    def docker(self) -> DockerOptions:
        return DockerOptions(
            image=self.docker_image,
            allowed_images=self.docker_allowed_images,
            image_parameter=self.docker_image_parameter,
            command=self.docker_command,
            network=self.docker_network,
            keep_containers=self.keep_containers,
        )

    def slot_agent_id(self, slot: int) -> str:
        """Stable for the life of the process, distinct per slot, so requeues can avoid it."""
        base = self.agent_id or f"{socket.gethostname()}-{os.getpid()}"
        return f"{base}-slot{slot}"[:128]

    def slot_gpus(self, slot: int) -> tuple[str, ...]:
        """The slot's share of --gpus: equal, disjoint, in order."""
        if not self.gpus:
            return ()
        per_slot = len(self.gpus) // self.slots
        return self.gpus[slot * per_slot : (slot + 1) * per_slot]


# -- value parsers: each raises ValueError with what is expected -------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError("must be a number of seconds >= 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a number of seconds > 0")
    return value


def _address(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be HOST:PORT, e.g. scheduler.example.org:8081")
    return text


def _name(text: str) -> str:
    if not 1 <= len(text) <= 64 or text != text.strip():
        raise ValueError("must be 1..64 characters without surrounding spaces")
    return text


def _runner(text: str) -> str:
    if text not in RUNNERS:
        raise ValueError(f"must be one of {', '.join(RUNNERS)}")
    return text


def _log_format(text: str) -> str:
    if text not in ("text", "json"):
        raise ValueError("must be 'text' or 'json'")
    return text


def _gpus(text: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in text.split(",") if part.strip())
    if not ids or len(set(ids)) != len(ids):
        raise ValueError("must be distinct GPU ids separated by commas, e.g. 0,1")
    return ids


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _paths(text: str) -> tuple[Path, ...]:
    return tuple(Path(part).resolve() for part in text.split(os.pathsep) if part)


def _python_function(text: str) -> str:
    module, sep, function = text.partition(":")
    if not sep or not module or not function.isidentifier():
        raise ValueError("must be MODULE:FUNCTION, e.g. examples.echo_function:run")
    return text


def _shell_words(text: str) -> tuple[str, ...]:
    return tuple(shlex.split(text))


@dataclass(frozen=True)
class _Option:
    attr: str
    flag: str
    parse: Callable[[str], object]
    help: str
    is_switch: bool = False

    @property
    def env(self) -> str:
        """Named after the flag: --kill-grace -> BERTH_AGENT_KILL_GRACE."""
        return ENV_PREFIX + self.flag.lstrip("-").replace("-", "_").upper()


_OPTIONS = (
    _Option("scheduler", "--scheduler", _address, "HOST:PORT of the scheduler's execution port"),
    _Option("backend", "--backend", _name, "the backend this host serves, e.g. qpu"),
    _Option("token_file", "--token-file", Path, "file with the executor token or dev-tokens JSON"),
    _Option("runner", "--runner", _runner, "command (default), python or docker"),
    _Option("agent_id", "--agent-id", _name, "agent id prefix (default: HOSTNAME-PID)"),
    _Option("actual_backend", "--actual-backend", _name, "device reported (default: --backend)"),
    _Option("slots", "--slots", _positive_int, "jobs run at once (default 1, or one per GPU)"),
    _Option("gpus", "--gpus", _gpus, "GPU ids shared out to slots via CUDA_VISIBLE_DEVICES"),
    _Option("command", "--command", _shell_words, "command runner program (or after --)"),
    _Option("python_function", "--python-function", _python_function, "MODULE:FUNCTION"),
    _Option("python_path", "--python-path", _paths, "extra import dirs for --python-function"),
    _Option("docker_image", "--docker-image", str, "default image for the docker runner"),
    _Option("docker_allowed_images", "--docker-allowed-images", _comma_list, "image patterns"),
    _Option("docker_image_parameter", "--docker-image-parameter", str, "job parameter naming it"),
    _Option("docker_command", "--docker-command", _shell_words, "command run in the container"),
    _Option("docker_network", "--docker-network", str, "container network (e.g. none)"),
    _Option("keep_containers", "--keep-containers", parse_bool, "keep containers", is_switch=True),
    _Option("runner_version", "--runner-version", str, "reported runner version"),
    _Option("grace_seconds", "--grace", _non_negative_float, "drain time on SIGTERM (60)"),
    _Option("kill_grace_seconds", "--kill-grace", _non_negative_float, "SIGTERM->SIGKILL (5)"),
    _Option("poll_wait_seconds", "--poll-wait", _positive_float, "long-poll length (30)"),
    _Option("connect_timeout_seconds", "--connect-timeout", _positive_float, "start-up (10)"),
    _Option("work_dir", "--work-dir", Path, "where job files go (default: temp dir)"),
    _Option("log_limit_bytes", "--log-limit", _positive_int, "bytes of job log kept (1 MiB)"),
    _Option("upload_attempts", "--upload-attempts", _positive_int, "PUT attempts (4)"),
    _Option("log_format", "--log-format", _log_format, "text (default) or json"),
    _Option("tls", "--tls", parse_bool, "TLS to the scheduler, system CA roots", is_switch=True),
    _Option("tls_ca", "--tls-ca", readable_file, "TLS with this PEM CA (implies --tls)"),
    _Option("tls_cert", "--tls-cert", readable_file, "client certificate (PEM) for mutual TLS"),
    _Option("tls_key", "--tls-key", readable_file, "its private key (PEM)"),
)
_REQUIRED = ("scheduler", "backend", "token_file")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m executor_agent",
        description="Berth executor agent. Every option also reads BERTH_AGENT_<NAME>.",
        epilog="Command runner: put the program after --, e.g. -- python3 run.py {input} {output}",
    )
    for option in _OPTIONS:
        if option.is_switch:
            parser.add_argument(
                option.flag, dest=option.attr, action="store_const", const="true", help=option.help
            )
        else:
            parser.add_argument(option.flag, dest=option.attr, help=f"{option.help} [{option.env}]")
    return parser


def parse_config(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Raises ConfigError (or SystemExit(0) for --help)."""
    environ = os.environ if environ is None else environ
    argv = list(argv)
    trailing: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, trailing = argv[:at], argv[at + 1 :]
    raw = vars(_parser().parse_args(argv))
    values: dict[str, object] = {}
    for option in _OPTIONS:
        text = raw.get(option.attr)
        source = option.flag
        if text is None:
            text = environ.get(option.env)
            source = option.env
        if text is None:
            continue
        try:
            values[option.attr] = option.parse(text)
        except ValueError as error:
            raise ConfigError(f"{source}: {error} (got {text!r})") from None
    if trailing:
        values["command"] = tuple(trailing)
    for attr in _REQUIRED:
        if attr not in values:
            option = next(o for o in _OPTIONS if o.attr == attr)
            raise ConfigError(f"{option.flag} (or {option.env}) is required")
    return _build(values)


def _build(values: dict[str, object]) -> AgentConfig:
    gpus = values.get("gpus")
    if isinstance(gpus, tuple) and "slots" not in values:
        values["slots"] = len(gpus)  # one GPU per slot unless --slots says otherwise
    # Every value was produced by its option's parser, so the types line up.
    config = AgentConfig(**cast(dict[str, Any], values))
    _check_consistency(config)
    return config


def _check_consistency(config: AgentConfig) -> None:
    if config.gpus and len(config.gpus) % config.slots:
        raise ConfigError(
            f"--gpus: {len(config.gpus)} GPUs cannot be shared equally by {config.slots} slots"
        )
    if config.runner == "command" and not config.command:
        raise ConfigError(
            "--runner command needs a program: put it after --, "
            "e.g. -- python3 examples/echo_program.py (or set BERTH_AGENT_COMMAND)"
        )
    if (config.tls_cert is None) != (config.tls_key is None):
        raise ConfigError("--tls-cert and --tls-key go together: give both or neither")
    if config.tls_cert is not None and not config.uses_tls:
        raise ConfigError("--tls-cert needs TLS: add --tls (system roots) or --tls-ca FILE")
    if config.runner == "python" and not config.python_function:
        raise ConfigError("--runner python needs --python-function MODULE:FUNCTION")
    if config.runner == "docker" and not (config.docker_image or config.docker_allowed_images):
        raise ConfigError("--runner docker needs --docker-image or --docker-allowed-images")
