"""``python -m lobzero``: the same command line as ``lobzero``."""

import sys

from lobzero.cli import main

sys.exit(main())
