"""``python -m graphchurn``: the command line."""

import sys

from graphchurn.app.interrupt import install, report

install()  # before the command line (and numpy, pandas...) are imported: issue 26

try:
    from graphchurn.app.cli import main
    code = main()
    install()  # main put back the handlers it found: ours, until the interpreter is gone
except KeyboardInterrupt as err:  # a signal during the imports above
    code = report(err)
sys.exit(code)
