"""`python -m executor_agent`: parse options, check the token and the scheduler, run.

Start-up problems (bad option, unreadable token file, unreachable scheduler, a
backend the scheduler does not know, a --python-function that cannot be
imported, no Docker engine) print one line on stderr and exit non-zero: 2 for a bad
option, 1 for everything else. SIGTERM and SIGINT drain and exit 0.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from executor_agent.agent import Agent
from executor_agent.config import AgentConfig, ConfigError, parse_config
from executor_agent.logging_setup import configure_logging
from executor_agent.runners.factory import make_runner
from executor_agent.scheduler_link import (
    SchedulerLink,
    SchedulerRefused,
    SchedulerUnreachable,
    channel_credentials,
)
from executor_agent.token_file import TokenFile, TokenFileError

EXIT_BAD_OPTION = 2
EXIT_START_FAILED = 1


class StartupError(Exception):
    pass


async def run_agent(config: AgentConfig) -> int:
    try:
        token = TokenFile(config.token_file)
    except TokenFileError as error:
        raise StartupError(str(error)) from None
    try:
        runner = make_runner(config)
    except Exception as error:  # DockerUnavailable, or an unusable runner option
        raise StartupError(str(error)) from None
    work_root = config.work_dir
    own_work_root = work_root is None
    if work_root is None:
        work_root = Path(tempfile.mkdtemp(prefix="berth-agent-"))
    work_root.mkdir(parents=True, exist_ok=True)
    credentials = (
        channel_credentials(config.tls_ca, config.tls_cert, config.tls_key)
        if config.uses_tls
        else None
    )
    link = SchedulerLink(config.scheduler, token, credentials)
    try:
        try:
            await link.wait_until_reachable(config.connect_timeout_seconds)
            await link.check_backend(config.backend)
        except (SchedulerUnreachable, SchedulerRefused) as error:
            raise StartupError(str(error)) from None
        agent = Agent(config, link, runner, work_root, token.token())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.request_stop, sig.name)
        return await agent.run()
    finally:
        await link.close()
        if own_work_root:
            shutil.rmtree(work_root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv)
    except ConfigError as error:
        print(f"berth-agent: error: {error}", file=sys.stderr)
        return EXIT_BAD_OPTION
    configure_logging(config.log_format)
    try:
        return asyncio.run(run_agent(config))
    except StartupError as error:
        print(f"berth-agent: error: {error}", file=sys.stderr)
        return EXIT_START_FAILED


if __name__ == "__main__":
    sys.exit(main())
