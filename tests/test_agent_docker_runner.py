"""The docker runner, with the Docker SDK's client patched: no Docker engine runs here.

The patched client is the only mock in the agent's tests. It stands in for
the engine: `containers.run` "runs" the container by writing the result into
the directory mounted at /berth/output, as a real image would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import docker
import pytest
from docker.errors import DockerException

from executor_agent.config import DockerOptions
from executor_agent.job_log import JobLog
from executor_agent.runners import RunRequest
from executor_agent.runners.docker_runner import DockerRunner, DockerUnavailable, choose_image


def request(tmp_path: Path, payload: bytes = b"circuit", **parameters: str) -> RunRequest:
    work = tmp_path / "work"
    work.mkdir(parents=True)
    return RunRequest(
        job_id="job-7",
        payload=payload,
        settings={"job_id": "job-7", "backend": "gpu", "parameters": parameters},
        work_dir=work,
        log=JobLog(1024 * 1024),
        gpus=("2", "3"),
    )


def engine(result: bytes | None = b"42", status: int = 0) -> mock.MagicMock:
    """A patched DockerClient whose container writes `result` and exits with `status`."""
    client = mock.MagicMock(name="DockerClient")
    container = mock.MagicMock(name="Container")
    client.containers.run.return_value = container
    container.id = "0123456789abcdef"
    container.attrs = {"State": {"OOMKilled": False}}
    container.logs.side_effect = lambda **_: iter([b"loading model\n", b"step 1 of 1\n"])

    def run(image: str, command: Any, **kwargs: Any) -> mock.MagicMock:
        output = next(host for host, bind in kwargs["volumes"].items() if bind["mode"] == "rw")
        if result is not None:
            Path(output, "result").write_bytes(result)
        return container

    client.containers.run.side_effect = run
    container.wait.return_value = {"StatusCode": status}
    return client


@pytest.fixture
def patched_from_env() -> Iterator[mock.MagicMock]:
    with mock.patch.object(docker, "from_env") as from_env:
        yield from_env


async def test_runs_the_image_with_the_payload_mounted_read_only_and_gpus(
    tmp_path: Path, patched_from_env: mock.MagicMock
) -> None:
    client = engine(b"the result")
    patched_from_env.return_value = client
    runner = DockerRunner(DockerOptions(image="ghcr.io/lab/sim:1", network="none"), 5.0)
    req = request(tmp_path)
    result = await runner.run(req)
    assert result.succeeded, result.error
    assert result.result == b"the result"
    assert result.runner_version == "docker:ghcr.io/lab/sim:1"
    (image, command), kwargs = client.containers.run.call_args
    assert image == "ghcr.io/lab/sim:1"
    assert command is None  # the image's own command
    assert kwargs["detach"] is True
    assert kwargs["network_mode"] == "none"
    volumes = kwargs["volumes"]
    input_host = next(host for host, bind in volumes.items() if bind["bind"] == "/berth/input")
    assert volumes[input_host]["mode"] == "ro"
    assert Path(input_host).read_bytes() == b"circuit"  # noqa: ASYNC240 (a small local file)
    assert kwargs["environment"]["BERTH_OUTPUT"] == "/berth/output/result"
    assert '"backend": "gpu"' in kwargs["environment"]["BERTH_JOB_SETTINGS"]
    (gpu_request,) = kwargs["device_requests"]
    assert gpu_request["DeviceIDs"] == ["2", "3"]
    assert gpu_request["Capabilities"] == [["gpu"]]
    assert b"loading model" in req.log.output
    client.containers.run.return_value.remove.assert_called_once_with(force=True)


async def test_a_failing_container_keeps_its_log_in_the_error_and_the_job_log(
    tmp_path: Path, patched_from_env: mock.MagicMock
) -> None:
    patched_from_env.return_value = engine(None, status=2)
    req = request(tmp_path)
    result = await DockerRunner(DockerOptions(image="sim"), 5.0).run(req)
    assert not result.succeeded
    assert "container sim exited with code 2" in result.error
    assert result.error.rstrip().endswith("step 1 of 1")
    assert b"step 1 of 1" in req.log.output


async def test_keep_containers_leaves_the_container(
    tmp_path: Path, patched_from_env: mock.MagicMock
) -> None:
    client = engine()
    patched_from_env.return_value = client
    options = DockerOptions(image="sim", keep_containers=True)
    assert (await DockerRunner(options, 5.0).run(request(tmp_path))).succeeded
    client.containers.run.return_value.remove.assert_not_called()


async def test_job_may_pick_an_allowed_image_only(
    tmp_path: Path, patched_from_env: mock.MagicMock
) -> None:
    client = engine()
    patched_from_env.return_value = client
    options = DockerOptions(image="sim", allowed_images=("ghcr.io/lab/*",))
    runner = DockerRunner(options, 5.0)
    refused = await runner.run(request(tmp_path, image="evil/miner:latest"))
    assert not refused.succeeded
    assert "image 'evil/miner:latest' is not allowed" in refused.error
    client.containers.run.assert_not_called()
    allowed = await runner.run(request(tmp_path / "2", image="ghcr.io/lab/qsim:2"))
    assert allowed.succeeded
    assert client.containers.run.call_args.args[0] == "ghcr.io/lab/qsim:2"


def test_image_choice() -> None:
    options = DockerOptions(image=None, allowed_images=("a/*",), image_parameter="container")
    assert choose_image(options, {"container": "a/b"}) == "a/b"
    with pytest.raises(Exception, match="set the job parameter 'container'"):
        choose_image(options, {})


async def test_cancel_stops_and_removes_the_container(
    tmp_path: Path, patched_from_env: mock.MagicMock
) -> None:
    client = engine()
    container = client.containers.run.return_value
    waiting, stopped = threading.Event(), threading.Event()

    def wait() -> dict[str, int]:
        waiting.set()
        stopped.wait(10)
        return {"StatusCode": 137}

    container.wait.side_effect = wait
    container.stop.side_effect = lambda **_: stopped.set()
    patched_from_env.return_value = client

    req = request(tmp_path)
    task = asyncio.create_task(DockerRunner(DockerOptions(image="sim"), 3.0).run(req))
    assert await asyncio.to_thread(waiting.wait, 10)
    task.cancel()
    await asyncio.wait({task})
    assert task.cancelled()
    container.stop.assert_called_once_with(timeout=3)
    container.remove.assert_called_once_with(force=True)
    assert b"loading model" in req.log.output


def test_no_docker_engine_is_a_clear_start_up_error(patched_from_env: mock.MagicMock) -> None:
    patched_from_env.side_effect = DockerException("Error while fetching server API version")
    with pytest.raises(DockerUnavailable, match="cannot reach the Docker engine"):
        DockerRunner(DockerOptions(image="sim"), 5.0)
