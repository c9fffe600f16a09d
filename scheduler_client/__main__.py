"""`python -m scheduler_client`: the researcher's command line."""

import sys

from scheduler_client.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
