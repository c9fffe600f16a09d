"""Generated protobuf code; importing this package puts `berth.*` on sys.path.

The generated modules import each other by proto path (`berth.scheduler.v1`),
so the directory holding `berth/` must itself be on sys.path.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
