"""The executor agent: runs on a hardware host, pulls jobs for one backend and runs them."""

import pb as _pb  # noqa: F401  (puts the generated `berth.*` modules on sys.path)

__version__ = "0.1.0"
AGENT_VERSION = f"berth-agent/{__version__}"
