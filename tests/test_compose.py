"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

Every service's command goes through its module's real argument parser (see
tests/compose_model.py); the results must fit together: each host:port a
command uses is a service that listens there, waited for through depends_on;
the tokens file the init writes is the one the agent and the CLI read, through
the same volume. test_compose_system.py then runs the commands for real.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import distribution, packages_distributions
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dashboard.server import SHUTDOWN_S
from executor_agent.config import parse_config
from scheduler.aws.__main__ import build_parser as provision_parser
from scheduler.config import load_config
from tests.compose_model import (
    ROOT,
    Wiring,
    healthcheck_argv,
    is_runnable_module,
    load_compose,
    module_of,
    service_argv,
    service_environment,
    wiring,
)
from token_database.cli import build_parser as token_database_parser

COMPOSE = load_compose()
SERVICES: dict[str, Any] = COMPOSE["services"]


@functools.cache
def wiring_of(name: str) -> Wiring:
    """Parsed on first use, so a service whose command does not parse fails its tests only."""
    return wiring(service_argv(SERVICES[name]), service_environment(SERVICES[name]))


ONE_SHOT = "service_completed_successfully"
EMULATOR_SERVICE = "aws"


def _depends_on(name: str) -> dict[str, dict[str, str]]:
    return dict(SERVICES[name].get("depends_on") or {})


def _reaches(name: str, target: str) -> bool:
    """`name` starts only after `target` (depends_on, directly or through others)."""
    seen: set[str] = set()
    todo = list(_depends_on(name))
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(_depends_on(current))
    return False


def _seconds(duration: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def test_one_image_runs_every_part_of_the_system() -> None:
    assert {"aws", "init", "tokens", "scheduler", "agent", "dashboard", "cli", "admin"} <= set(
        SERVICES
    )
    for name, service in SERVICES.items():
        if name == EMULATOR_SERVICE:
            # The deployable image has no emulator: the aws service builds the target adding it.
            assert service.get("build") == {"context": ".", "target": "emulator"}
            assert service.get("image") != SERVICES["scheduler"]["image"]
            continue
        assert service.get("build") == ".", f"{name} must build ./Dockerfile"
        assert service.get("image") == SERVICES["scheduler"]["image"], f"{name}: one image"
    modules = {module_of(service_argv(service))[0] for service in SERVICES.values()}
    assert modules == {
        "moto.server",
        "scheduler.aws",
        "token_database",
        "scheduler",
        "executor_agent",
        "scheduler_client",
        "dashboard",
    }


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_command_is_a_real_entry_point_whose_flags_parse(name: str) -> None:
    service = SERVICES[name]
    health = service.get("healthcheck") or {}
    for listed in filter(
        None, (service.get("command"), service.get("entrypoint"), health.get("test"))
    ):
        # Compose's schema takes only strings in these lists: an unquoted 8082 is refused.
        assert all(isinstance(word, str) for word in listed), f"{name}: {listed}"
    module, _ = module_of(service_argv(service))
    assert is_runnable_module(module), f"{name}: `python -m {module}` runs nothing"
    for path in wiring_of(name).files:
        assert (ROOT / path).is_file(), f"{name} runs {path}, which is not in the repository"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_server_has_a_healthcheck_that_probes_itself(name: str) -> None:
    if not wiring_of(name).listens:
        assert not SERVICES[name].get("healthcheck"), f"{name} serves nothing to probe"
        return
    argv = healthcheck_argv(SERVICES[name])
    assert is_runnable_module(module_of(argv)[0])
    probed = wiring(argv, {}).connects
    assert probed and all(host == "localhost" for host, _ in probed), probed
    assert {port for _, port in probed} <= wiring_of(name).listens


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_address_is_a_service_listening_there_and_waited_for(name: str) -> None:
    for host, port in wiring_of(name).connects:
        assert host in SERVICES, f"{name} connects to {host}:{port}, which is no service"
        target = wiring_of(host)
        assert port in target.listens, (
            f"{name} uses {host}:{port}; {host} listens on {target.listens}"
        )
        assert target.binds_all_interfaces, (
            f"{host} listens on loopback only: {name} cannot reach it"
        )
        assert _reaches(name, host), f"{name} uses {host} but does not depend on it"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_names_services_with_fitting_conditions(name: str) -> None:
    assert not _reaches(name, name), f"{name} depends on itself"
    for target, spec in _depends_on(name).items():
        assert target in SERVICES, f"{name} depends on unknown service {target}"
        condition = spec.get("condition")
        if condition == "service_healthy":
            assert SERVICES[target].get("healthcheck"), f"{target} has no healthcheck"
        else:
            assert condition == ONE_SHOT, f"{name} -> {target}: condition {condition!r}"
            assert SERVICES[target].get("restart") == "no" and not wiring_of(target).listens


def test_every_one_shot_service_is_awaited_so_up_wait_succeeds() -> None:
    """`docker compose up --wait` counts an exited container as a failure unless a service
    waits for it with service_completed_successfully."""
    one_shots = {name for name, service in SERVICES.items() if service.get("restart") == "no"}
    assert one_shots == {"init"}
    for one_shot in one_shots:
        assert any(
            _depends_on(name).get(one_shot, {}).get("condition") == ONE_SHOT
            and not SERVICES[name].get("profiles")
            for name in SERVICES
        ), f"nothing `up` starts waits for {one_shot} to complete"


@pytest.mark.parametrize("name", sorted(n for n in SERVICES if SERVICES[n].get("ports")))
def test_published_ports_are_served_and_stay_on_this_machine(name: str) -> None:
    for mapping in SERVICES[name]["ports"]:
        host_ip, _host_port, container_port = str(mapping).split(":")
        assert host_ip == "127.0.0.1", f"{name} publishes {mapping} beyond this machine"
        assert int(container_port) in wiring_of(name).listens, f"{name}: nothing on {mapping}"


def _volume_holding(name: str, path: str) -> tuple[str, bool]:
    """(volume, read_only) of the named volume `name` sees `path` through."""
    for mount in SERVICES[name].get("volumes", []):
        source, target, *mode = str(mount).split(":")
        if path.startswith(target.rstrip("/") + "/"):
            assert source in (COMPOSE.get("volumes") or {}), f"{name}: undeclared volume {source}"
            return source, mode == ["ro"]
    raise AssertionError(f"{name} uses {path}, which no named volume of it holds")


def test_tokens_file_is_written_by_init_and_read_through_the_same_volume() -> None:
    writers = {n: w.writes_tokens for n in SERVICES if (w := wiring_of(n)).writes_tokens}
    readers = {n: w.reads_tokens for n in SERVICES if (w := wiring_of(n)).reads_tokens}
    assert list(writers) == ["init"] and {"agent", "cli", "admin"} <= set(readers)
    written = writers["init"]
    volume, read_only = _volume_holding("init", written)
    assert not read_only
    for reader, path in readers.items():
        assert path == written, f"{reader} reads {path}, init writes {written}"
        assert _volume_holding(reader, path)[0] == volume
        assert _reaches(reader, "init")


def test_init_provisions_what_the_token_database_and_scheduler_use() -> None:
    init = provision_parser().parse_args(module_of(service_argv(SERVICES["init"]))[1])
    tokens = token_database_parser().parse_args(module_of(service_argv(SERVICES["tokens"]))[1])
    scheduler = load_config(module_of(service_argv(SERVICES["scheduler"]))[1], env={})
    assert tokens.table == init.token_table
    assert (scheduler.job_bucket_name_key, scheduler.job_table_name_key) == (
        init.job_bucket_name_key,
        init.job_table_name_key,
    )
    assert scheduler.backend_status_parameter_name == init.backend_status_parameter_name
    agent = parse_config(module_of(service_argv(SERVICES["agent"]))[1], environ={})
    assert agent.backend in init.backends


def test_the_dashboard_reaches_only_the_submission_port_and_holds_no_aws_credentials() -> None:
    dashboard = SERVICES["dashboard"]
    scheduler = load_config(module_of(service_argv(SERVICES["scheduler"]))[1], env={})
    assert wiring_of("dashboard").connects == [("scheduler", scheduler.port_for_submission)]
    assert not any(key.startswith("AWS_") for key in service_environment(dashboard))
    assert not dashboard.get("volumes"), "no tokens file: users sign in with their own"


def test_stop_grace_outlasts_each_process_drain() -> None:
    agent = parse_config(module_of(service_argv(SERVICES["agent"]))[1], environ={})
    scheduler = load_config(module_of(service_argv(SERVICES["scheduler"]))[1], env={})
    assert _seconds(SERVICES["agent"]["stop_grace_period"]) > agent.grace_seconds
    assert _seconds(SERVICES["scheduler"]["stop_grace_period"]) > scheduler.grace_seconds
    assert _seconds(SERVICES["dashboard"]["stop_grace_period"]) > SHUTDOWN_S


# -- Dockerfile -----------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _dockerignored(path: str) -> bool:
    """.dockerignore's verdict for `path`: the last matching pattern wins; a match on a
    parent directory counts for everything inside it."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(prefix, glob) for prefix in prefixes):
            ignored = not negated
    return ignored


def _stages() -> list[tuple[str, str, list[str]]]:
    """(name, base, the rest of its instructions) per stage, in order."""
    stages: list[tuple[str, str, list[str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            words = rest.split()
            stages.append((words[-1] if "AS" in words else "", words[0], []))
        else:
            stages[-1][2].append(rest)
    return stages


def test_dockerfile_installs_the_wheel_extras_at_the_lock_versions() -> None:
    stages = _stages()
    by_name = {name: stage for stage in stages for name in [stage[0]] if name}
    assert all(base == "python:3.11-slim" or base in by_name for _, base, _ in stages)
    runs = " ".join(rest for keyword, rest in _instructions() if keyword == "RUN")
    assert "lock_constraints.py Pipfile.lock" in runs and "pipenv" not in runs
    assert "--constraint" in runs and "[scheduler,agent,dashboard]" in runs
    # The default target is the last stage: neither it nor what it builds on adds the emulator.
    deployed, stage = [], stages[-1]
    while True:
        deployed += stage[2]
        if stage[1] not in by_name:
            break
        stage = by_name[stage[1]]
    assert deployed and not any("moto" in rest for rest in deployed)
    assert any("moto" in rest for rest in by_name["emulator"][2])


def test_lock_constraints_pin_every_runtime_package() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/lock_constraints.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    pins = dict(line.split(";")[0].split("==") for line in done.stdout.splitlines())
    assert {"boto3", "grpcio", "protobuf", "moto"} <= set(pins)
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", name) for name in pins), "no extras, no paths"


def test_dockerfile_copies_sources_that_exist_and_reach_the_build() -> None:
    copies = [rest.split() for keyword, rest in _instructions() if keyword == "COPY"]
    sources = [s for words in copies if not words[0].startswith("--from") for s in words[:-1]]
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        files = (
            [source]
            if (ROOT / source).is_file()
            else [str(p.relative_to(ROOT)) for p in (ROOT / source).rglob("*.py")]
        )
        kept = [f for f in files if "__pycache__" not in f]
        assert kept and not any(_dockerignored(f) for f in kept), f"COPY {source}: .dockerignored"
    copied_tops = {source.split("/")[0] for source in sources}
    for name, service in SERVICES.items():
        module = module_of(service_argv(service))[0].split(".")[0]
        assert module in copied_tops or module == "moto", f"{name} runs {module}, not copied"
        for path in wiring_of(name).files:
            assert path.split("/")[0] in copied_tops, f"{name} runs {path}, not copied"


def test_dockerfile_cmd_is_a_real_entry_point() -> None:
    cmds = [rest for keyword, rest in _instructions() if keyword == "CMD"]
    assert len(cmds) == 1
    argv = json.loads(cmds[0])
    assert is_runnable_module(module_of(argv)[0])
    exposed = {int(p) for k, rest in _instructions() if k == "EXPOSE" for p in rest.split()}
    assert set().union(*(w.listens for w in map(wiring_of, SERVICES))) <= exposed


def test_no_package_registry_is_named_in_the_build() -> None:
    for name in ("Dockerfile", "docker-compose.yml", ".dockerignore", "Pipfile"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert not re.search(r"index-url|\[\[source\]\]|pypi\.org|pythonhosted", text), name
        assert not re.search(r"\b[a-z0-9-]+\.(org|com|io|net|dev)\b", text), name
    lock = json.loads((ROOT / "Pipfile.lock").read_text(encoding="utf-8"))
    assert lock["_meta"]["sources"] == []


def _image_modules() -> set[str]:
    """Top-level modules the image holds: those of berth[scheduler,agent]'s dependency closure."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    todo = [
        Requirement(r)
        for r in [
            *project["dependencies"],
            *extras["scheduler"],
            *extras["agent"],
            *extras["dashboard"],
        ]
    ]
    closure: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in closure:
            continue
        closure.add(name)
        for text in distribution(name).requires or []:
            needed = Requirement(text)
            wanted = requirement.extras or {""}
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in wanted
            ):
                todo.append(needed)
    return {
        module
        for module, distributions in packages_distributions().items()
        if any(canonicalize_name(d) in closure for d in distributions)
    }


# Imports every entry point's module with the packages the image lacks made unimportable;
# optional imports (grpc tries grpc_tools) and probes for optional packages fall back as they
# would there.
_IMPORT_WITHOUT = """
import importlib, importlib.abc, importlib.util, json, sys
blocked = set(json.loads(sys.argv[1]))
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the image)", name=name)
        return None
sys.meta_path.insert(0, Absent())
probe = importlib.util.find_spec  # a probe for an optional package (yarl's for pydantic) finds none
importlib.util.find_spec = lambda name, package=None: (
    None if name.partition(".")[0] in blocked else probe(name, package)
)
for name in json.loads(sys.argv[2]):
    spec = probe(name)
    main = name + ".__main__" if spec.submodule_search_locations else name
    # token_database.__main__ runs at import; its code lives in token_database.cli
    importlib.import_module("token_database.cli" if name == "token_database" else main)
"""


def test_the_image_runs_without_development_packages() -> None:
    """The wheel's [scheduler,agent,dashboard] extras suffice for every command of the image."""
    deployed = [s for name, s in SERVICES.items() if name != EMULATOR_SERVICE]
    modules = {module_of(service_argv(s))[0] for s in deployed}
    modules |= {
        module_of(healthcheck_argv(s))[0] for s in SERVICES.values() if s.get("healthcheck")
    }
    ours = {
        "berth",
        "berth_common",
        "dashboard",
        "scheduler",
        "scheduler_client",
        "executor_agent",
        "token_database",
    }
    kept = _image_modules() | ours
    blocked = set(packages_distributions()) - kept
    assert {"moto", "pytest"} <= blocked and "grpc" not in blocked and "boto3" not in blocked
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _IMPORT_WITHOUT,
            json.dumps(sorted(blocked)),
            json.dumps(sorted(modules)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"an entry point needs a package the image lacks:\n{done.stderr}"
