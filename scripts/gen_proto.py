"""Regenerate the `berth` package from proto/ (messages, gRPC stubs and .pyi stubs).

Run: pipenv run python scripts/gen_proto.py [OUT_DIR]   (writes OUT_DIR/berth/)
The package path is the proto package path, so the generated modules' own imports
(`from berth.scheduler.v1 import ...`) resolve with no sys.path edits. A test
regenerates into a temporary directory and fails when the committed berth/ differs.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"


def generate(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    # mypy-protobuf's plugins sit next to this interpreter, which need not be on PATH.
    scripts = Path(sys.executable).parent
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={scripts / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={scripts / 'protoc-gen-mypy_grpc'}",
        f"-I{PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for proto in protos:
        package_dir = out_dir / Path(proto).parent
        while package_dir != out_dir:
            (package_dir / "__init__.py").touch()
            package_dir = package_dir.parent
    (out_dir / "berth" / "py.typed").touch()


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
