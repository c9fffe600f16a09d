"""`--dist loadgroup` that keeps each module marked with `xdist_group` on one worker.

pytest 9.2 builds a test's node id from its structured id, so the group suffix
pytest-xdist 3.8 appends to the old string attribute never reaches the scheduler
and grouped tests were spread over every worker (each building the module's
system, agent and browser again). This scheduler reads the module-level mark from
the source instead: the scheduling process never imports the test modules.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from xdist.scheduler import LoadGroupScheduling

ROOT = Path(__file__).resolve().parent.parent
MODULE_MARK = re.compile(r'^pytestmark = pytest\.mark\.xdist_group\("([^"]+)"\)$', re.MULTILINE)


@cache
def module_group(module: str) -> str | None:
    """The group a test module (a rootdir-relative path) names for all its tests, if any."""
    path = ROOT / module
    if path.suffix != ".py" or not path.is_file():
        return None
    found = MODULE_MARK.search(path.read_text())
    return found[1] if found else None


class ModuleGroupScheduling(LoadGroupScheduling):  # type: ignore[misc]  # xdist is untyped
    def _split_scope(self, nodeid: str) -> str:
        group = module_group(nodeid.partition("::")[0])
        return group if group is not None else super()._split_scope(nodeid)
