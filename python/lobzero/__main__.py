"""``python -m lobzero``: the same command line as ``lobzero``."""

import sys

from lobzero.cli import main

if __name__ == "__main__":
    sys.exit(main())
