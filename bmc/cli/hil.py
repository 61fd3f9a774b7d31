"""``bmc hil``: a device on a serial port takes over a launcher or a radar."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from bmc.cli import common
from bmc.engine.realtime import RealtimeError, node_kind
from bmc.scenario import ScenarioError


def add(sub: Any) -> None:
    """The command's parser."""
    hil = sub.add_parser("hil", help="a device on a serial port takes over a launcher or a radar")
    kinds = hil.add_subparsers(dest="hil_kind", required=True, parser_class=common.Parser)
    for kind, what in (
        ("launcher", "a launcher (e.g. the Pi launcher mock)"),
        ("sensor", "a radar (sensor board)"),
    ):
        h = kinds.add_parser(kind, help=f"bridge {what} to the broker")
        h.add_argument(
            "node_id", help=f"the {'launcher' if kind == 'launcher' else 'radar'}'s id in the scenario"
        )
        h.add_argument("--scenario", type=Path, required=True, help="scenario YAML file")
        h.add_argument("--port", required=True, help="serial device or pyserial URL (/dev/ttyUSB0, a pty)")
        h.add_argument("--baud", type=_baud, default=115200, help="line rate (default 115200)")
        h.add_argument(
            "--speed",
            type=common.speed,
            help="the cell's --speed (default: follow the cell's, from the world's birth)",
        )
        h.add_argument(
            "--device-timeout",
            type=float,
            metavar="S",
            help="simulated seconds of device silence before the node is declared dead "
            "(default: the launcher's heartbeat_timeout_s, or 2.5 radar scan periods)",
        )
        common.limit_args(h)
        common.broker_args(h)
        common.key_args(h)
        h.set_defaults(handler=_hil)


def _baud(text: str) -> int:
    from hil.serial_link import BAUD_RATES

    if not text.isdigit() or int(text) not in BAUD_RATES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(map(str, BAUD_RATES))} (got {text!r})")
    return int(text)


def _hil(args: argparse.Namespace) -> int:
    # Imported here: only this command needs pyserial.
    from hil.bridge import BridgeOptions, run_bridge
    from hil.serial_link import SerialConfig

    scenario = common.load(args)
    try:
        kind = node_kind(scenario, args.node_id)
        wanted = "launcher" if args.hil_kind == "launcher" else "radar"
        if kind != wanted:
            raise ValueError(f"{args.node_id!r} is a {kind}, not a {wanted}")
        keys = common.cell_keys(args, scenario, [args.node_id], orders=False)
        options = common.options(args, args.speed, keys, scenario)
        bridge = BridgeOptions(SerialConfig(args.port, args.baud), args.device_timeout)
        summary = asyncio.run(run_bridge(scenario, args.node_id, options, bridge))
    except (ValueError, RealtimeError) as exc:
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    print(json.dumps(summary, indent=2))
    return common.EXIT_OK
