"""``bmc``: the command line. Turns every error into one clear line and an exit code.

Exit codes: 0 success (every ``expect`` check holds), 1 a check failed,
2 bad input (unreadable or invalid scenario, bad arguments).

One module per group of commands, each with ``add(sub)`` (its parsers, each naming its
handler) and its handlers; ``common`` holds what they share.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from bmc.cli import common, hil, interop, replay, run, setup, sweep
from bmc.cli.common import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK
from bmc.engine.threads import pin_blas_threads
from protocols.errors import UsageError

__all__ = ["EXIT_BAD_INPUT", "EXIT_CHECK_FAILED", "EXIT_OK", "main"]


def _parser() -> argparse.ArgumentParser:
    p = common.Parser(prog="bmc", description="Air-defence battle-management emulator.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=common.Parser)
    setup.add_init(sub)
    for command in (run, sweep, replay, hil, interop, setup):
        command.add(sub)
    return p


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("bmc-emulator")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bmc`` console script."""
    args = _parser().parse_args(argv)
    pin_blas_threads()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except UsageError as exc:
        for line in str(exc).splitlines():
            print(f"bmc: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("bmc: interrupted", file=sys.stderr)
        return 130
