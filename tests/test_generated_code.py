"""pb/ must be exactly what scripts/gen_proto.py makes from proto/."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _files(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_pb_is_regenerated_from_proto(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    committed, fresh = _files(ROOT / "pb"), _files(tmp_path)
    assert committed == fresh, "pb/ is stale: run `pipenv run python scripts/gen_proto.py`"
    stale = [
        name
        for name in sorted(fresh)
        if not filecmp.cmp(ROOT / "pb" / name, tmp_path / name, shallow=False)
    ]
    assert not stale, f"pb/ is stale ({stale}): run `pipenv run python scripts/gen_proto.py`"
