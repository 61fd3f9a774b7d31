"""``bmc run`` (a whole cell, virtual or real time, optionally recorded) and ``bmc node``
(one node of a cell as its own process)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from bmc.cli import common
from bmc.engine.realtime import RealtimeError, node_kind, run_cell, run_node
from bmc.engine.report import RunReport
from bmc.engine.runner import cell_identities, external_nodes, run_virtual
from bmc.keys import roles_of
from bmc.progress import Progress
from bmc.scenario import ScenarioError


def add(sub: Any) -> None:
    """The commands' parsers."""
    run = sub.add_parser("run", help="run a scenario in virtual time and print its engagement report")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--seed", type=common.seed, help="override the scenario's seed")
    run.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the report as JSON ('-' for stdout)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress and no table")
    run.add_argument(
        "--junit", type=Path, metavar="PATH", help="also write each expect check as a JUnit XML test case"
    )
    run.add_argument(
        "--record",
        type=Path,
        metavar="PATH",
        help="record every message on the bus to an MCAP file (for bmc replay and bmc report)",
    )
    run.add_argument(
        "--realtime", action="store_true", help="pace to the wall clock (what --mqtt does; needs --mqtt)"
    )
    run.add_argument(
        "--speed", type=common.speed, help="with --mqtt: simulated seconds per wall second (default 1)"
    )
    run.add_argument(
        "--dis-in",
        metavar="udp://HOST:PORT",
        help="with --mqtt: fly other simulators' DIS entities in this world (docs/INTEROP.md)",
    )
    common.limit_args(run)
    common.broker_args(run)
    common.key_args(run)
    run.set_defaults(handler=_run)

    node = sub.add_parser("node", help="run one radar, launcher or the FDC as its own process on the broker")
    node.add_argument("node_id", help="the node's id in the scenario")
    node.add_argument("--scenario", type=Path, required=True, help="scenario YAML file")
    node.add_argument(
        "--speed",
        type=common.speed,
        help="the cell's --speed (default: follow the cell's, from the world's birth)",
    )
    common.limit_args(node)
    common.broker_args(node)
    common.key_args(node)
    node.set_defaults(handler=_node)


RUN_PROGRESS = (
    "simulated {n:.0f} / {total:.0f} s {percentage:3.0f}% |{bar:20}| {elapsed} elapsed, {remaining} left"
)


def _progress(stream: TextIO, tty: bool = True) -> Any:
    """``show(now, duration)`` for a run: a bar on a terminal, else a line per tenth of the run."""
    bar: list[Progress] = []

    def show(now: float, duration: float) -> None:
        if not bar:
            bar.append(Progress(stream, duration, RUN_PROGRESS, tty=tty))
        bar[0].update_to(now)
        if now >= duration:
            bar[0].close()

    return show


def _run(args: argparse.Namespace) -> int:
    scenario = common.load(args)
    if args.realtime and not args.mqtt:
        raise ScenarioError("--realtime needs a broker: add --mqtt URL")
    if args.speed is not None and not args.mqtt:
        raise ScenarioError(
            "--speed paces a real-time run and needs --mqtt URL (a virtual run goes as fast as it can)"
        )
    dis_in = None
    if args.dis_in is not None:
        from bmc.interop.dis_in import DisInput

        if not args.mqtt:
            raise ScenarioError("--dis-in takes entities in real time: add --mqtt URL")
        dis_in = DisInput.parse(args.dis_in)
    tty = sys.stderr.isatty()
    # A virtual run is over in seconds: progress only on a terminal. A real-time one may take
    # as long as the scenario: say so at the start, and show progress in a log too.
    progress = None if args.quiet or not (tty or args.mqtt) else _progress(sys.stderr, tty)
    broker = common.broker_config(args) if args.mqtt else None
    speed = 1.0 if args.speed is None else args.speed
    keys = None
    if broker is not None:
        keys = common.cell_keys(args, scenario, cell_identities(scenario))
    elif args.keys is not None:  # virtual runs need none (they seal with the derived keys)
        keys = common.cell_keys(args, scenario, list(roles_of(scenario).nodes))
    if broker is not None and not args.quiet:
        print(
            f"bmc: real time over the broker at {broker.host}:{broker.port} at speed {speed:g}: "
            f"{scenario.duration_s:g} s simulated "
            f"take {scenario.duration_s / speed:.0f} s",
            file=sys.stderr,
        )
    recorder = _open_recording(args, scenario)
    taps = [] if recorder is None else [recorder]
    report: RunReport | None = None
    try:
        if broker is not None:
            options = common.options(args, speed, keys, scenario)
            if dis_in is not None:
                options = dataclasses.replace(options, dis_in=dis_in)
            deliveries = None
            if recorder is not None and scenario.fdc.id not in external_nodes(scenario):
                # When the FDC heard each input: what `bmc replay --into fdc` replays exactly.
                deliveries = {scenario.fdc.id: recorder.delivery_log(scenario.fdc.id)}
            report = asyncio.run(
                run_cell(
                    scenario, options, seed=args.seed, progress=progress, taps=taps, deliveries=deliveries
                )
            )
        else:
            report = run_virtual(scenario, seed=args.seed, progress=progress, taps=taps, keys=keys)
    except (ValueError, RealtimeError) as exc:
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    finally:
        _close_recording(recorder, report)
        if dis_in is not None and dis_in.entities is not None and not args.quiet:
            print(dis_in.entities.summary(), file=sys.stderr)
    if args.json is not None:
        text = json.dumps(report.to_dict(), indent=2) + "\n"
        if str(args.json) == "-":
            sys.stdout.write(text)
        else:
            try:
                args.json.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ScenarioError(f"{args.json}: cannot write report: {exc.strerror}") from None
    if args.junit is not None:
        from bmc import junit

        junit.write(
            args.junit,
            f"bmc run {report.scenario} (seed {report.seed})",
            junit.report_cases(report),
            report.wall_time_s or 0.0,
        )
    if not args.quiet and str(args.json) != "-":
        print(report.text())
        if recorder is not None:
            print(f"recorded {recorder.count} messages to {recorder.path}")
    return common.EXIT_OK if report.ok else common.EXIT_CHECK_FAILED


def _node(args: argparse.Namespace) -> int:
    scenario = common.load(args)
    try:
        node_kind(scenario, args.node_id)
        options = common.options(args, args.speed, common.cell_keys(args, scenario, [args.node_id]), scenario)
        summary = asyncio.run(run_node(scenario, args.node_id, options))
    except (ValueError, RealtimeError) as exc:
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    print(json.dumps(summary, indent=2))
    return common.EXIT_OK


def _open_recording(args: argparse.Namespace, scenario: Any) -> Any:
    """The recorder of ``bmc run --record`` (None without the option)."""
    if args.record is None:
        return None
    from bmc.record import open_recorder

    return open_recorder(
        args.record,
        scenario,
        source=args.scenario,
        seed=args.seed,
        mode="realtime" if args.mqtt else "virtual",
        speed=args.speed if args.mqtt else None,
        root=common.root(args, scenario) if args.mqtt else None,  # a virtual run has one root
    )


def _close_recording(recorder: Any, report: RunReport | None) -> None:
    if recorder is None:
        return
    from bmc.record import close_recorder
    from protocols.recording import RecordingError

    try:
        close_recorder(recorder, None if report is None else report.to_dict())
    except RecordingError as exc:
        if report is not None:  # a failed run's own error matters more than its recording's
            raise ScenarioError(str(exc)) from None
