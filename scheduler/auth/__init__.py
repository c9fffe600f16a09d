"""The scheduler's side of authentication: verifying bearer tokens and who may use which port."""
