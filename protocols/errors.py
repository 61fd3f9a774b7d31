"""The one base of every error that is the user's input or environment, not a bug.

``bmc`` prints such an error's message (one line per line, prefixed ``bmc:``) and exits 2;
library users catch ``bmc.UsageError``. It lives in the base layer so that ``protocols`` (broker,
recording, keys), ``bmc`` (scenario, real time, sweeps) and ``hil`` can all raise it.
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad input or environment, told in a message that names the problem and the fix."""
