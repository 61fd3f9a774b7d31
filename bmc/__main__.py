"""``python -m bmc`` runs the command line."""

import sys

from bmc.cli import main

sys.exit(main())
