"""The embedded development system: one command, one machine, no AWS account."""
