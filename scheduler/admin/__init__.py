"""`python -m scheduler admin`: operator commands against a running scheduler (admin token)."""
