"""The executor agent: runs on a hardware host, pulls jobs for one backend and runs them."""

from berth_common.version import __version__

__all__ = ["AGENT_VERSION", "__version__"]
AGENT_VERSION = f"berth-agent/{__version__}"
