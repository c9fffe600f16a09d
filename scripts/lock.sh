#!/usr/bin/env bash
# Re-resolve Pipfile.lock. Pipenv records the index it resolved against in
# _meta.sources; we empty it so no committed file names a registry host and
# `pipenv sync` falls back to pip's configured default index.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pipenv lock
python3 - <<'PY'
import json, pathlib
path = pathlib.Path("Pipfile.lock")
lock = json.loads(path.read_text())
lock["_meta"]["sources"] = []
path.write_text(json.dumps(lock, indent=4, sort_keys=True) + "\n")
PY
