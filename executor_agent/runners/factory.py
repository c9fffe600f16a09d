"""Building the runner --runner names; docker is imported only when it is used."""

from __future__ import annotations

from executor_agent.config import AgentConfig
from executor_agent.runners import Runner


def make_runner(config: AgentConfig) -> Runner:
    """Raises DockerUnavailable when --runner docker cannot reach the engine, ValueError
    when the --python-function cannot be loaded."""
    if config.runner == "python":
        from executor_agent.runners.python_runner import PythonRunner

        assert config.python_function is not None
        runner = PythonRunner(
            config.python_function,
            config.python_path,
            config.kill_grace_seconds,
            config.runner_version,
        )
        runner.check_loadable()
        return runner
    if config.runner == "docker":
        from executor_agent.runners.docker_runner import DockerRunner

        return DockerRunner(config.docker, config.kill_grace_seconds, config.runner_version)
    from executor_agent.runners.command import CommandRunner

    return CommandRunner(config.command, config.kill_grace_seconds, config.runner_version)
