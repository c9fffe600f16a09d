"""Berth token database: issues bearer tokens, stores only their hashes, verifies them."""

import pb as _pb  # noqa: F401  (puts the generated `berth.*` modules on sys.path)
