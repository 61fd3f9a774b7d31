"""``bmc replay`` (a recording onto a broker, or into a fresh FDC) and ``bmc report``
(the after-action report of a recording)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from bmc.cli import common
from bmc.progress import Progress
from bmc.scenario import ScenarioError


def add(sub: Any) -> None:
    """The commands' parsers."""
    rp = sub.add_parser(
        "replay",
        help="republish a recording on a broker at its recorded pace, or feed it to a fresh FDC",
    )
    rp.add_argument("recording", type=Path, help="MCAP file written by bmc run --record")
    rp.add_argument(
        "--into",
        choices=["fdc"],
        help="no broker: feed the recorded inputs to a fresh FDC and compare its fire orders "
        "with the recorded ones (exit 1 on a difference)",
    )
    rp.add_argument("--speed", type=common.speed, default=1.0, help="times the recorded pace (default 1)")
    rp.add_argument(
        "--from", dest="t_from", type=common.sim_time, metavar="T", help="start at simulated second T"
    )
    rp.add_argument("--to", dest="t_to", type=common.sim_time, metavar="T", help="end at simulated second T")
    rp.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --into fdc: change the recorded scenario first, e.g. fdc.doctrine=salvo-2 (repeatable)",
    )
    rp.add_argument("--doctrine", help="with --into fdc: same as --set fdc.doctrine=VALUE")
    rp.add_argument("--quiet", action="store_true", help="no progress bar, print only errors")
    common.broker_args(rp)
    rp.set_defaults(handler=_replay)

    rep = sub.add_parser(
        "report", help="after-action report from a recording: report.json, map.png, timeline.png, report.html"
    )
    rep.add_argument("recording", type=Path, help="MCAP file written by bmc run --record")
    rep.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    rep.add_argument("--quiet", action="store_true", help="print only errors")
    rep.set_defaults(handler=_report)


REPLAY_PROGRESS = "replay |{bar:30}| {percentage:3.0f}%  simulated {n:.1f} / {total:.0f} s"


def _replay_progress(stream: TextIO) -> Any:
    """``show(now, start, end)`` for a replay onto a broker (recorded simulated seconds)."""
    bar: list[Progress] = []

    def show(now: float, start: float, end: float) -> None:
        if not bar:
            bar.append(Progress(stream, max(end - start, 1e-9), REPLAY_PROGRESS, done=0.0, tty=True))
        bar[0].update_to(min(max(now - start, 0.0), end - start))
        if now >= end:
            bar[0].close()

    return show


def _replay(args: argparse.Namespace) -> int:
    from bmc.replay import PACING_TOLERANCE_MS, replay_into_fdc, replay_to_mqtt

    overrides = list(args.set) + ([f"fdc.doctrine={args.doctrine}"] if args.doctrine else [])
    if args.into == "fdc":
        if args.t_from is not None or args.t_to is not None:
            raise ScenarioError("--from and --to apply to a replay onto a broker, not --into fdc")
        fdc = replay_into_fdc(args.recording, overrides)
        what = f" with {', '.join(overrides)}" if overrides else ""
        n_rec = len({s.order.order_id for s in fdc.recorded})
        n_rep = len({s.order.order_id for s in fdc.replayed})
        verdict = "identical" if fdc.identical else f"{len(fdc.differences)} order(s) differ"
        print(
            f"a fresh {fdc.fdc_id}{what}, fed {fdc.inputs} recorded messages: fire orders recorded "
            f"{n_rec} ({len(fdc.recorded)} publications), replayed {n_rep} ({len(fdc.replayed)}): {verdict}"
        )
        for line in fdc.differences:
            print(f"  {line}")
        for note in fdc.notes:
            print(f"note: {note}", file=sys.stderr)
        if fdc.damage is not None:
            raise ScenarioError(f"{fdc.damage} (compared up to there)")
        return common.EXIT_OK if fdc.identical else common.EXIT_CHECK_FAILED
    if overrides:
        raise ScenarioError("--set and --doctrine apply to --into fdc only")
    if not args.mqtt:
        raise ScenarioError("bmc replay needs a destination: --mqtt URL (or BMC_MQTT_URL), or --into fdc")
    broker = common.broker_config(args)
    progress = None if args.quiet or not sys.stderr.isatty() else _replay_progress(sys.stderr)
    try:
        result = asyncio.run(
            replay_to_mqtt(args.recording, broker, args.speed, args.t_from, args.t_to, progress)
        )
    except ValueError as exc:  # recording and broker errors are UsageErrors: they pass
        raise ScenarioError(str(exc)) from None
    pacing = result.pacing()
    if not args.quiet:
        print(
            f"replayed {result.sent} messages (+{result.retained_before} retained from before the "
            f"start), simulated {result.start_s:.1f}-{result.end_s:.1f} s in {result.wall_s:.1f} s "
            f"at x{args.speed:g}; "
            f"lateness p50 {pacing['p50_ms']} ms, p99 {pacing['p99_ms']} ms, max {pacing['max_ms']} ms"
        )
    if not result.within_tolerance():
        limits = ", ".join(f"{k.removesuffix('_ms')} {v:g} ms" for k, v in PACING_TOLERANCE_MS.items())
        print(f"bmc: warning: replay pacing outside its tolerance ({limits})", file=sys.stderr)
    if result.problem:
        raise ScenarioError(result.problem)
    return common.EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from bmc.aar import write_report

    try:
        analysis = write_report(args.recording, args.out)
    except OSError as exc:
        raise ScenarioError(f"{args.out}: cannot write the report: {exc.strerror or exc}") from None
    report = analysis.report
    if not args.quiet:
        if report.wall_time_s is not None:
            print(report.text())
        names = ("report.html", "report.json", "map.png", "timeline.png")
        print(f"wrote {', '.join(str(args.out / n) for n in names)}")
    if analysis.damage is not None:
        # One line: the other problems (missing live report, digest) follow from the damage.
        raise ScenarioError(f"{analysis.damage} (the report covers the readable part, in {args.out})")
    for problem in analysis.problems:
        print(f"bmc: warning: {problem}", file=sys.stderr)
    return common.EXIT_OK
