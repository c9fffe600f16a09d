"""Print Pipfile.lock's runtime pins as pip constraints (`name==version`, one a line).

The Dockerfile installs the wheel's extras with these constraints, so the image
runs the versions the test suite ran, yet holds only what its extras need.
Constraints may not name extras or local paths: the editable project is left out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def constraints(lock_path: Path) -> list[str]:
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    lines = []
    for name, entry in sorted(lock["default"].items()):
        version = entry.get("version")
        if isinstance(version, str) and version.startswith("=="):
            marker = entry.get("markers")
            lines.append(f"{name}{version}" + (f"; {marker}" if marker else ""))
    return lines


if __name__ == "__main__":
    lock = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "Pipfile.lock"
    print("\n".join(constraints(lock)))
