import sys

from token_database.cli import main

sys.exit(main())
