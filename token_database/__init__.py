"""Berth token database: issues bearer tokens, stores only their hashes, verifies them."""
