"""``python -m graphchurn``: the command line."""

import sys

from graphchurn.app.cli import main

sys.exit(main())
