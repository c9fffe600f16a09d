"""The docker runner: each job in a fresh container, through the Docker SDK for Python.

The image is --docker-image, or the one a job names in its parameters if
--docker-allowed-images matches it (shell-style patterns), so owners cannot
run arbitrary images on the host. The payload is mounted read-only at
/berth/input; the container writes its result to /berth/output/result. The
slot's GPUs are passed as a device request. On timeout or cancel the
container is stopped (SIGTERM, then SIGKILL after the kill grace); its logs
go to the job log whatever the outcome, and it is removed afterwards unless
--keep-containers.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
from collections.abc import Mapping
from typing import Any

import docker
from docker.errors import DockerException

from executor_agent.config import DockerOptions
from executor_agent.runners import RunRequest, RunResult

log = logging.getLogger("executor_agent.docker")

INPUT = "/berth/input"
OUTPUT_DIR = "/berth/output"
RESULT = f"{OUTPUT_DIR}/result"


class DockerUnavailable(Exception):
    """The Docker engine cannot be reached at start."""


class ImageRefused(Exception):
    pass


def choose_image(options: DockerOptions, parameters: Mapping[str, str]) -> str:
    requested = parameters.get(options.image_parameter, "")
    if requested:
        if any(fnmatch.fnmatchcase(requested, pattern) for pattern in options.allowed_images):
            return requested
        allowed = ", ".join(options.allowed_images) or "none"
        raise ImageRefused(
            f"image {requested!r} is not allowed on this agent (allowed patterns: {allowed})"
        )
    if options.image:
        return options.image
    raise ImageRefused(
        f"no image: set the job parameter {options.image_parameter!r} "
        f"to an image matching {', '.join(options.allowed_images)}"
    )


def connect() -> Any:
    """docker.from_env(): DOCKER_HOST and friends, else the local socket."""
    try:
        return docker.from_env()
    except DockerException as error:
        raise DockerUnavailable(f"cannot reach the Docker engine: {error}") from None


class DockerRunner:
    def __init__(
        self,
        options: DockerOptions,
        kill_grace_s: float,
        version: str | None = None,
        client: Any = None,
    ) -> None:
        self._options = options
        self._kill_grace_s = kill_grace_s
        self._version = version
        self._client = client if client is not None else connect()

    @property
    def version(self) -> str:
        return self._version or f"docker:{self._options.image or 'per-job image'}"[:64]

    async def run(self, request: RunRequest) -> RunResult:
        try:
            image = choose_image(self._options, request.settings.get("parameters", {}))
        except ImageRefused as error:
            return RunResult(False, error=str(error))
        version = self._version or f"docker:{image}"[:64]
        input_path = request.work_dir / "input"
        output_dir = request.work_dir / "output"
        input_path.write_bytes(request.payload)
        output_dir.mkdir()
        output_dir.chmod(0o777)  # the container's user may not be ours
        try:
            container = await asyncio.to_thread(self._start, image, request)
        except DockerException as error:
            return RunResult(False, error=f"docker could not start {image}: {error}")
        try:
            status = await asyncio.to_thread(container.wait)
            await asyncio.to_thread(container.reload)
        except asyncio.CancelledError:
            request.log.note(f"stopping container {container.id[:12]}")
            await asyncio.to_thread(self._stop, container)
            raise
        except DockerException as failure:
            return RunResult(False, error=f"docker: {failure}", runner_version=version)
        finally:
            await asyncio.to_thread(self._collect_logs, container, request)
            if not self._options.keep_containers:
                await asyncio.to_thread(self._remove, container)
        code = status.get("StatusCode") if isinstance(status, dict) else None
        if code != 0:
            state = container.attrs.get("State", {}) if isinstance(container.attrs, dict) else {}
            why = "was killed: out of memory" if state.get("OOMKilled") is True else None
            tail = request.log.tail_text()
            message = f"container {image} {why or f'exited with code {code}'}"
            if tail:
                message += f"; last lines of its log:\n{tail}"
            return RunResult(False, error=message, runner_version=version)
        result_path = output_dir / "result"
        if not result_path.exists():
            return RunResult(
                False,
                error=f"container {image} exited 0 but wrote no {RESULT}",
                runner_version=version,
            )
        return RunResult(True, result=result_path.read_bytes(), runner_version=version)

    def _start(self, image: str, request: RunRequest) -> Any:
        device_requests = []
        if request.gpus:
            device_requests.append(
                docker.types.DeviceRequest(device_ids=list(request.gpus), capabilities=[["gpu"]])
            )
        return self._client.containers.run(
            image,
            list(self._options.command) or None,
            detach=True,
            environment={
                "BERTH_JOB_ID": request.job_id,
                "BERTH_JOB_SETTINGS": json.dumps(dict(request.settings), sort_keys=True),
                "BERTH_INPUT": INPUT,
                "BERTH_OUTPUT": RESULT,
            },
            volumes={
                str(request.work_dir / "input"): {"bind": INPUT, "mode": "ro"},
                str(request.work_dir / "output"): {"bind": OUTPUT_DIR, "mode": "rw"},
            },
            device_requests=device_requests,
            network_mode=self._options.network,
            labels={"berth.job_id": request.job_id},
        )

    def _stop(self, container: Any) -> None:
        try:
            container.stop(timeout=max(1, round(self._kill_grace_s)))
        except DockerException as error:
            log.warning("could not stop container %s: %s", container.id[:12], error)

    def _collect_logs(self, container: Any, request: RunRequest) -> None:
        try:
            for chunk in container.logs(stdout=True, stderr=True, stream=True, follow=False):
                request.log.write(chunk)
        except DockerException as error:
            request.log.note(f"could not read the container's log: {error}")

    def _remove(self, container: Any) -> None:
        try:
            container.remove(force=True)
        except DockerException as error:
            log.warning("could not remove container %s: %s", container.id[:12], error)
