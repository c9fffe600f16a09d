"""Prometheus metrics of one scheduler replica, served on `--metrics-port`."""
