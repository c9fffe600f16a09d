"""berth/ must be exactly what scripts/gen_proto.py makes from proto/."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HINT = "run `pipenv run python scripts/gen_proto.py`"


def _files(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_generated_package_is_regenerated_from_proto(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    committed, fresh = ROOT / "berth", tmp_path / "berth"
    assert _files(committed) == _files(fresh), f"berth/ is stale: {HINT}"
    stale = [
        name
        for name in sorted(_files(fresh))
        if not filecmp.cmp(committed / name, fresh / name, shallow=False)
    ]
    assert not stale, f"berth/ is stale ({stale}): {HINT}"
