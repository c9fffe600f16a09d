"""Berth scheduler: queues jobs per backend and hands them to executor agents."""

import pb as _pb  # noqa: F401  (puts the generated `berth.*` modules on sys.path)

__version__ = "0.1.0"
