"""``bmc``: the command line. Turns every error into one clear line and an exit code.

Exit codes: 0 success (every ``expect`` check holds), 1 a check failed,
2 bad input (unreadable or invalid scenario, bad arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn, TextIO

from bmc.engine.runner import run_virtual
from bmc.scenario import ScenarioError, load_scenario

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"bmc: error: {message}\n")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (got {value})")
    return value


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bmc", description="Air-defence battle-management emulator.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a scenario in virtual time and print its engagement report")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--seed", type=_seed, help="override the scenario's seed")
    run.add_argument(
        "--json", type=Path, metavar="PATH", help="also write the report as JSON ('-' for stdout)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress and no table")
    return p


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if v != int(v) else f"{v:.0f}"
    return str(v)


def format_report(r: dict[str, Any]) -> str:
    """The report as a readable table."""
    t = r["threats"]
    rows: list[tuple[str, str]] = [
        ("scenario", f"{r['scenario']} (seed {r['seed']})"),
        ("simulated", f"{_fmt(r['sim_time_s'])} s in {r['wall_time_s']:.2f} s wall"),
        (
            "threats",
            f"{t['total']} total: {t['killed']} killed, {t['leaked']} leaked, "
            f"{t['alive_at_end']} alive at end",
        ),
        ("friendly engaged", _fmt(r["friendly_engaged"])),
        ("missiles fired", f"{r['missiles_fired']} ({_fmt(r['missiles_per_kill'])} per kill)"),
        (
            "reaction time",
            f"p50 {_fmt(r['reaction_time_s']['p50'])} s, "
            f"p95 {_fmt(r['reaction_time_s']['p95'])} s (first detection to first launch)",
        ),
    ]
    rows += [(f"asset {a}", f"{hits} hit(s)") for a, hits in r["assets"].items()]
    rows += [(f"launcher {lid}", f"{v['fired']} fired") for lid, v in r["launchers"].items()]
    msg = r["messages"]
    rows.append(
        (
            "messages",
            f"{msg['published']} published, {msg['delivered']} delivered, "
            f"{msg['dropped']} dropped, {msg['rejected']} rejected",
        )
    )
    rows.append(("digest", r["digest"]))
    rows += [
        (f"expect {'ok  ' if e['ok'] else 'FAIL'}", f"{e['check']}  (value {_fmt(e['value'])})")
        for e in r["expect"]
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _progress(stream: TextIO) -> Any:
    def show(now: float, duration: float) -> None:
        stream.write(f"\r  simulated {now:8.1f} / {duration:.0f} s ({100 * now / duration:3.0f} %)")
        if now >= duration:
            stream.write("\n")
        stream.flush()

    return show


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    progress = None if args.quiet or not sys.stderr.isatty() else _progress(sys.stderr)
    try:
        report = run_virtual(scenario, seed=args.seed, progress=progress)
    except ValueError as exc:
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    if args.json is not None:
        text = json.dumps(report, indent=2) + "\n"
        if str(args.json) == "-":
            sys.stdout.write(text)
        else:
            try:
                args.json.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ScenarioError(f"{args.json}: cannot write report: {exc.strerror}") from None
    if not args.quiet and str(args.json) != "-":
        print(format_report(report))
    return EXIT_OK if all(e["ok"] for e in report["expect"]) else EXIT_CHECK_FAILED


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bmc`` console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
    except ScenarioError as exc:
        print(f"bmc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("bmc: interrupted", file=sys.stderr)
        return 130
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
