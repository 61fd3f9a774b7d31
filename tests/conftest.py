"""Suite-wide settings: property tests are reproducible in CI."""

from __future__ import annotations

import os

from hypothesis import settings

# Locally, hypothesis explores new examples on every run (and remembers failures in
# .hypothesis/); CI replays one fixed sequence, so a landing never hangs on a lucky draw.
# A failure found locally gets an explicit regression test.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
