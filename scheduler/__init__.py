"""Berth scheduler: queues jobs per backend and hands them to executor agents."""

from berth_common.version import __version__

__all__ = ["__version__"]
