"""The one version number of every Berth program and of the distribution (pyproject reads it)."""

__version__ = "0.1.0"
