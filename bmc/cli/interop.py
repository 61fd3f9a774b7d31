"""``bmc gateway`` (the live cell as ASTERIX and DIS over UDP) and ``bmc export`` (a
recording as a pcap of the same datagrams). docs/INTEROP.md says what is sent."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from bmc.cli import common
from bmc.scenario import ScenarioError
from protocols.auth import MONITOR


def _categories(text: str) -> frozenset[int]:
    from bmc.interop.asterix_feed import parse_categories

    try:
        return parse_categories(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pdu_kinds(text: str) -> frozenset[str]:
    from bmc.interop.dis_feed import parse_kinds

    try:
        return parse_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _byte(text: str) -> int:
    value = common.whole(0)(text)
    if value > 255:
        raise argparse.ArgumentTypeError(f"must be 0..255 (got {value})")
    return value


def _u16(text: str) -> int:
    value = common.whole(1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be 1..65535 (got {value})")
    return value


def _standard_args(p: argparse.ArgumentParser) -> None:
    a = p.add_argument_group("ASTERIX")
    a.add_argument("--sac", type=_byte, default=0, help="system area code of the CAT062 tracks (default 0)")
    a.add_argument(
        "--sic",
        type=_byte,
        default=1,
        help="system identification code of the CAT062 tracks (default 1); radars without their "
        "own sac/sic in the scenario take --sac and --sic + 1 + their index",
    )
    a.add_argument(
        "--cat",
        type=_categories,
        default=None,
        metavar="062,048,034",
        help="categories to send (default all three)",
    )
    a.add_argument(
        "--sectors",
        type=common.whole(0),
        default=None,
        metavar="N",
        help="CAT034 sector crossings per scan (default 8; 0: north markers only)",
    )
    d = p.add_argument_group("DIS")
    d.add_argument("--exercise-id", type=_byte, default=1, help="DIS exercise id (default 1)")
    d.add_argument("--site", type=_u16, default=1, help="site number of our entity ids (default 1)")
    d.add_argument(
        "--application", type=_u16, default=1, help="application number of our entity ids (default 1)"
    )
    d.add_argument(
        "--pdu",
        type=_pdu_kinds,
        default=None,
        metavar="entity,fire,detonation",
        help="PDU kinds to send (default all three)",
    )


def _asterix_options(args: argparse.Namespace) -> dict[str, Any]:
    from bmc.interop.asterix_feed import CATEGORIES, DEFAULT_SECTORS

    return {
        "sac": args.sac,
        "sic": args.sic,
        "categories": args.cat or frozenset(CATEGORIES),
        "sectors": DEFAULT_SECTORS if args.sectors is None else args.sectors,
    }


def _dis_options(args: argparse.Namespace) -> dict[str, Any]:
    from bmc.interop.dis_feed import KINDS

    return {
        "exercise_id": args.exercise_id,
        "site": args.site,
        "application": args.application,
        "kinds": args.pdu or frozenset(KINDS),
    }


def add(sub: Any) -> None:
    """The commands' parsers."""
    g = sub.add_parser(
        "gateway",
        help="translate a live cell to ASTERIX (CAT062/048/034) and/or DIS (Entity State, Fire, "
        "Detonation) over UDP",
    )
    g.add_argument("--scenario", type=Path, required=True, help="the scenario the cell runs")
    g.add_argument("--asterix", metavar="udp://HOST:PORT", help="send ASTERIX here (port default 8600)")
    g.add_argument("--dis", metavar="udp://HOST:PORT", help="send DIS here (port default 3000)")
    g.add_argument(
        "--duration", type=float, metavar="S", help="stop after S wall seconds (default: when the world ends)"
    )
    g.add_argument("--ttl", type=_byte, default=1, help="multicast TTL (default 1: this subnet only)")
    g.add_argument("--quiet", action="store_true", help="print only errors")
    _standard_args(g)
    common.limit_args(g)
    common.broker_args(g)
    common.key_args(g)
    g.set_defaults(handler=_gateway)

    e = sub.add_parser(
        "export",
        help="a recording as a pcap of ASTERIX or DIS datagrams (what the gateway sends), for Wireshark, "
        "or as Tacview ACMI",
    )
    e.add_argument("recording", type=Path, help="MCAP file written by bmc run --record")
    e.add_argument(
        "--format",
        choices=["asterix", "dis", "acmi"],
        required=True,
        help="asterix or dis: a pcap of UDP datagrams (Wireshark); acmi: Tacview ACMI 2.2 text",
    )
    e.add_argument("--out", type=Path, required=True, metavar="FILE")
    e.add_argument("--port", type=_u16, help="UDP port in the file (default: ASTERIX 8600, DIS 3000)")
    e.add_argument(
        "--epoch",
        type=float,
        metavar="UNIX_S",
        help="Unix time of simulated time 0 (default: when the recording started)",
    )
    e.add_argument("--quiet", action="store_true", help="print only errors")
    _standard_args(e)
    e.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from bmc.interop.export import asterix_feed, dis_feed, export

    if args.epoch is not None and not args.epoch >= 0:
        raise ScenarioError(f"--epoch must be a Unix time >= 0 (got {args.epoch})")
    try:
        if args.format == "acmi":
            from bmc.interop.acmi import export_acmi

            summary: Any = export_acmi(args.recording, args.out, epoch_unix_s=args.epoch)
        else:
            asterix = args.format == "asterix"
            make = asterix_feed(**_asterix_options(args)) if asterix else dis_feed(**_dis_options(args))
            summary = export(args.recording, args.out, make, epoch_unix_s=args.epoch, port=args.port)
    except ValueError as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(f"{args.recording}: {exc}") from None
    except OSError as exc:
        raise ScenarioError(f"{args.out}: cannot write: {exc.strerror or exc}") from None
    if not args.quiet:
        for line in summary.lines():
            print(line)
    return common.EXIT_OK


def _gateway(args: argparse.Namespace) -> int:
    from bmc.interop.asterix_feed import AsterixFeed
    from bmc.interop.dis_feed import DisFeed
    from bmc.interop.feed import TimeBase
    from bmc.interop.gateway import Destination, run_gateway

    if not args.asterix and not args.dis:
        raise ScenarioError("nothing to send: give --asterix udp://HOST:PORT and/or --dis udp://HOST:PORT")
    if args.duration is not None and not args.duration > 0:
        raise ScenarioError(f"--duration must be > 0 s (got {args.duration})")
    scenario = common.load(args)
    placeholder = TimeBase(0.0)  # replaced at the first message (bmc.interop.gateway)
    feeds: list[Any] = []
    try:
        if args.asterix:
            dest = Destination.parse(args.asterix, "asterix")
            feeds.append((AsterixFeed(scenario, placeholder, **_asterix_options(args)), dest))
        if args.dis:
            dest = Destination.parse(args.dis, "dis")
            feeds.append((DisFeed(scenario, placeholder, **_dis_options(args)), dest))
    except ValueError as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    keys = common.cell_keys(args, scenario, [MONITOR], orders=False)
    options = common.options(args, None, keys, scenario)

    async def go() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run_gateway(
            scenario,
            options,
            feeds,
            duration_s=args.duration,
            stop=stop,
            ttl=args.ttl,
            on_ready=None if args.quiet else lambda line: print(line, flush=True),
        )

    summary = asyncio.run(go())
    if not args.quiet:
        for line in summary.lines():
            print(line, file=sys.stdout)
    return common.EXIT_OK
