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
from typing import Any, NoReturn

from berth_common.option_values import checked, log_format, parse_bool, positive_int, readable_file
from berth_common.options import (
    MISSING,
    ConfigError,
    add_arguments,
    declared_options,
    option,
    resolve,
)

__all__ = ["AgentConfig", "ConfigError", "DockerOptions", "parse_config"]

MIB = 1024 * 1024
RUNNERS = ("command", "python", "docker")
ENV_PREFIX = "BERTH_AGENT_"
REQUIRED: Any = MISSING


@dataclass(frozen=True)
class DockerOptions:
    image: str | None = None
    allowed_images: tuple[str, ...] = ()
    image_parameter: str = "image"
    command: tuple[str, ...] = ()
    network: str | None = None
    keep_containers: bool = False


# -- value parsers: each raises ValueError with what is expected -------------------------


_non_negative_float = checked(float, lambda value: value >= 0, "a number of seconds >= 0")
_positive_float = checked(float, lambda value: value > 0, "a number of seconds > 0")


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


def _opt(default: Any, flag: str, parse: Callable[[str], Any], help: str, **more: Any) -> Any:
    """An option whose variable is named after its flag: --kill-grace -> BERTH_AGENT_KILL_GRACE."""
    env = ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()
    return option(default, flag, env=env, parse=parse, help=help, **more)


@dataclass(frozen=True)
class AgentConfig:
    scheduler: str = _opt(
        REQUIRED, "--scheduler", _address, "HOST:PORT of the scheduler's execution port"
    )
    backend: str = _opt(REQUIRED, "--backend", _name, "the backend this host serves, e.g. qpu")
    token_file: Path = _opt(
        REQUIRED, "--token-file", Path, "file with the executor token or dev-tokens JSON"
    )
    runner: str = _opt("command", "--runner", _runner, "command (default), python or docker")
    agent_id: str | None = _opt(
        None, "--agent-id", _name, "agent id prefix (default: HOSTNAME-PID)"
    )
    actual_backend: str | None = _opt(
        None,
        "--actual-backend",
        _name,
        "device reported as actual_backend (default: the job's own backend)",
    )
    slots: int = _opt(1, "--slots", positive_int, "jobs run at once (default 1, or one per GPU)")
    gpus: tuple[str, ...] = _opt(
        (), "--gpus", _gpus, "GPU ids shared out to slots via CUDA_VISIBLE_DEVICES"
    )
    command: tuple[str, ...] = _opt(
        (), "--command", _shell_words, "command runner program (or after --)"
    )
    python_function: str | None = _opt(
        None, "--python-function", _python_function, "MODULE:FUNCTION"
    )
    python_path: tuple[Path, ...] = _opt(
        (), "--python-path", _paths, "extra import dirs for --python-function"
    )
    docker_image: str | None = _opt(
        None, "--docker-image", str, "default image for the docker runner"
    )
    docker_allowed_images: tuple[str, ...] = _opt(
        (), "--docker-allowed-images", _comma_list, "image patterns"
    )
    docker_image_parameter: str = _opt(
        "image", "--docker-image-parameter", str, "job parameter naming it"
    )
    docker_command: tuple[str, ...] = _opt(
        (), "--docker-command", _shell_words, "command run in the container"
    )
    docker_network: str | None = _opt(
        None, "--docker-network", str, "container network (e.g. none)"
    )
    keep_containers: bool = _opt(
        False, "--keep-containers", parse_bool, "keep containers", switch=True
    )
    runner_version: str | None = _opt(None, "--runner-version", str, "reported runner version")
    grace_seconds: float = _opt(60.0, "--grace", _non_negative_float, "drain time on SIGTERM (60)")
    kill_grace_seconds: float = _opt(
        5.0, "--kill-grace", _non_negative_float, "SIGTERM->SIGKILL (5)"
    )
    poll_wait_seconds: float = _opt(30.0, "--poll-wait", _positive_float, "long-poll length (30)")
    connect_timeout_seconds: float = _opt(
        10.0, "--connect-timeout", _positive_float, "start-up (10)"
    )
    work_dir: Path | None = _opt(None, "--work-dir", Path, "where job files go (default: temp dir)")
    log_limit_bytes: int = _opt(MIB, "--log-limit", positive_int, "bytes of job log kept (1 MiB)")
    upload_attempts: int = _opt(4, "--upload-attempts", positive_int, "PUT attempts (4)")
    log_format: str = _opt("text", "--log-format", log_format, "text (default) or json")
    tls: bool = _opt(
        False, "--tls", parse_bool, "TLS to the scheduler, system CA roots", switch=True
    )
    tls_ca: Path | None = _opt(
        None, "--tls-ca", readable_file, "TLS with this PEM CA (implies --tls)"
    )
    tls_cert: Path | None = _opt(
        None, "--tls-cert", readable_file, "client certificate (PEM) for mutual TLS"
    )
    tls_key: Path | None = _opt(None, "--tls-key", readable_file, "its private key (PEM)")

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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m executor_agent",
        description="Berth executor agent. Every option also reads BERTH_AGENT_<NAME>.",
        epilog="Command runner: put the program after --, e.g. -- python3 run.py {input} {output}",
    )
    add_arguments(parser, declared_options(AgentConfig))
    return parser


def parse_config(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Raises ConfigError (or SystemExit(0) for --help)."""
    environ = os.environ if environ is None else environ
    argv = list(argv)
    trailing: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, trailing = argv[:at], argv[at + 1 :]
    flags = vars(_parser().parse_args(argv))
    values = resolve(declared_options(AgentConfig), flags, environ, bad_value=_flag_colon)
    if trailing:
        values["command"] = tuple(trailing)
    return _build(values)


def _flag_colon(source: str, raw: str, error: ValueError) -> str:
    return f"{source}: {error} (got {raw!r})"


def _build(values: dict[str, Any]) -> AgentConfig:
    gpus = values.get("gpus")
    if isinstance(gpus, tuple) and "slots" not in values:
        values["slots"] = len(gpus)  # one GPU per slot unless --slots says otherwise
    config = AgentConfig(**values)
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
