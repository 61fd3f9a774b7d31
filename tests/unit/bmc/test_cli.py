"""The command line's structure: every command reaches a handler of its own."""

from __future__ import annotations

import argparse

from bmc.cli import _parser


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {path: parser.get_default("handler")}
    found: dict[tuple[str, ...], object] = {}
    for action in subs:
        for name, child in action.choices.items():
            found |= _leaves(child, (*path, name))
    return found


def test_every_command_has_its_own_handler() -> None:
    leaves = _leaves(_parser())
    assert {
        ("init",),
        ("run",),
        ("node",),
        ("sweep",),
        ("replay",),
        ("report",),
        ("hil", "launcher"),
        ("hil", "sensor"),
        ("keys", "init"),
        ("command",),
        ("broker-config",),
    } <= set(leaves)
    missing = [" ".join(path) for path, handler in leaves.items() if not callable(handler)]
    assert not missing, f"commands without a handler: {missing}"
    # One handler per command (hil's two kinds share one, told apart by hil_kind).
    handlers = {path: h for path, h in leaves.items() if path[0] != "hil"}
    assert len(set(map(id, handlers.values()))) == len(handlers)
