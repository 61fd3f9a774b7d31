"""Errors the CLI turns into exit 2: see :mod:`protocols.errors` (re-exported as ``bmc.UsageError``)."""

from protocols.errors import UsageError

__all__ = ["UsageError"]
