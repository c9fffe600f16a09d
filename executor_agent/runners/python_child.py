"""The python runner's child process: load MODULE:FUNCTION, call it once, write the result.

Run as a script by the agent (`python python_child.py MODULE:FUNCTION INPUT OUTPUT`;
`--check MODULE:FUNCTION` only loads it, once at the agent's start)
and deliberately stdlib-only, so nothing of the agent is imported into the
job's process. Exit 0 = result written; 1 = the function raised (traceback on
stderr); 2 = it could not be loaded or returned something other than bytes.
A segfault ends the process by a signal, with faulthandler's traceback in the log.
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import os
import sys
from collections.abc import Callable

EXIT_RAISED = 1
EXIT_BAD_FUNCTION = 2


def _load(spec: str) -> Callable[..., object] | None:
    module_name, _, function_name = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        print(f"berth python runner: cannot load {spec}: {error}", file=sys.stderr)
        return None
    if not callable(function):
        print(f"berth python runner: {spec} is not a function", file=sys.stderr)
        return None
    return function  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    faulthandler.enable()
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]  # the runners directory must not shadow the job's modules
    if argv[1] == "--check":
        return 0 if _load(argv[2]) is not None else EXIT_BAD_FUNCTION
    spec, input_path, output_path = argv[1:4]
    function = _load(spec)
    if function is None:
        return EXIT_BAD_FUNCTION
    settings = json.loads(os.environ.get("BERTH_JOB_SETTINGS", "{}"))
    with open(input_path, "rb") as file:
        payload = file.read()
    result = function(payload, settings)  # an exception prints a traceback and exits 1
    if not isinstance(result, bytes | bytearray | memoryview):
        print(
            f"berth python runner: {spec} returned {type(result).__name__}, it must return bytes",
            file=sys.stderr,
        )
        return EXIT_BAD_FUNCTION
    with open(output_path, "wb") as file:
        file.write(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
