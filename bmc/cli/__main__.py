"""``python -m bmc.cli``: the ``bmc`` command."""

import sys

from bmc.cli import main

sys.exit(main())
