"""Backend availability per role, read from a TOML document (an SSM parameter, or in memory)."""
