"""The command line: `python -m scheduler_client COMMAND ...` (see cli/main.py for exit codes)."""
