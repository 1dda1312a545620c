"""``python -m lobzero``: the `lobzero` command."""

import sys

from lobzero.cli import main

sys.exit(main())
