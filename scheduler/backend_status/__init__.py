"""Backend availability per role, read from a TOML document (SSM parameter)."""
