"""Launcher kept for existing deployment scripts: same as `python -m scheduler`."""

import sys

from scheduler.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
