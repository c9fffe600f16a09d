"""Where `python -m scheduler --dev` keeps its tokens: the file it writes, token commands read.

With it, `python -m token_database --dev list` reaches the development system's token
table without --endpoint, --region or credentials (the emulator takes any).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_DEV_STATE_FILE = Path(".berth/dev-stack.json")
DEV_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "berth-dev", "AWS_SECRET_ACCESS_KEY": "berth-dev"}


class DevStateError(Exception):
    """The state file is missing or not one this program wrote."""


@dataclass(frozen=True)
class DevState:
    endpoint: str
    region: str
    token_table: str


def write_dev_state(path: Path, state: DevState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")


def read_dev_state(path: Path) -> DevState:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return DevState(**{name: str(document[name]) for name in DevState.__dataclass_fields__})
    except FileNotFoundError:
        raise DevStateError(
            f"{path} not found: start `python -m scheduler --dev` first (from this directory)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DevStateError(f"{path} is not a development state file ({error})") from None


def use_dev_credentials() -> None:
    """The emulator accepts any credentials; set dummies so boto3 never looks further."""
    for name, value in DEV_CREDENTIALS.items():
        os.environ.setdefault(name, value)
