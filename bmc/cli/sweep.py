"""``bmc sweep``: a Monte Carlo sweep with statistical checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bmc.cli import common
from bmc.scenario import ScenarioError


def add(sub: Any) -> None:
    """The command's parser."""
    sw = sub.add_parser(
        "sweep",
        help="Monte Carlo sweep: many runs of a scenario over varied parameters, with statistical checks",
    )
    sw.add_argument("scenario", type=Path, help="scenario YAML file")
    sw.add_argument("--runs", type=common.positive, required=True, help="runs per parameter combination")
    sw.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=V1,V2,...",
        help="vary a scenario field, e.g. launchers[*].pk=0.6,0.8 or fdc.doctrine=shoot-look-shoot,salvo-2 "
        "(repeatable: every combination runs)",
    )
    sw.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="CHECK",
        help="a statistical check per combination, e.g. 'leaked.mean <= 0.5' or 'P(leaked == 0) >= 0.9' "
        "(repeatable; added to the scenario's expect lines)",
    )
    sw.add_argument("--ignore-expect", action="store_true", help="judge only the --check options")
    sw.add_argument("--workers", type=common.positive, help="local worker processes (default: one per core)")
    sw.add_argument(
        "--scheduler",
        metavar="tcp://HOST:8786",
        help="run on this existing Dask distributed cluster instead (--workers is then ignored)",
    )
    sw.add_argument("--out", type=Path, help="output directory (default sweeps/<scenario name>)")
    sw.add_argument("--fresh", action="store_true", help="discard the runs a previous sweep left in --out")
    sw.add_argument(
        "--junit",
        type=Path,
        metavar="PATH",
        help="also write each check x combination as a JUnit XML test case",
    )
    sw.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    sw.add_argument("--quiet", action="store_true", help="print nothing but errors and failed checks")
    common.limit_args(sw)
    sw.set_defaults(handler=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from bmc.sweep import SweepError, default_workers, format_summary, parse_vary, run_sweep, seen_text

    scenario = common.load(args)
    vary = [parse_vary(text) for text in args.vary]
    show = args.progress if args.progress is not None else (not args.quiet and sys.stderr.isatty())
    out = args.out if args.out is not None else Path("sweeps") / scenario.name
    try:
        result = run_sweep(
            scenario,
            args.runs,
            out,
            vary=vary,
            checks=args.check,
            use_expect=not args.ignore_expect,
            workers=args.workers or default_workers(),
            scheduler=args.scheduler,
            fresh=args.fresh,
            progress=sys.stderr if show else None,
            source=str(args.scenario),
            limits=common.limits(args),
        )
    except SweepError as exc:
        raise ScenarioError(f"{args.scenario}: {exc} (finished runs are kept in {out})") from None
    except KeyboardInterrupt:
        print(
            f"bmc: sweep interrupted; finished runs are kept in {out}: run again to resume", file=sys.stderr
        )
        raise
    if args.junit is not None:
        from bmc import junit

        suite = f"bmc sweep {result.scenario} ({result.runs} runs x {len(result.combinations)} combinations)"
        junit.write(
            args.junit,
            suite,
            junit.sweep_cases(result.scenario, result.checks, seen_text),
            result.wall_time_s,
        )
    if not args.quiet:
        print(format_summary(result))
        print(f"wrote {', '.join(str(f) for f in result.files)}")
    failed = [c for c in result.checks if not c["ok"]]
    for c in failed:
        where = ", ".join(f"{k}={v}" for k, v in c["params"].items()) or "base"
        print(
            f"bmc: check failed: {c['check']} on combination {c['combination']} ({where}): {seen_text(c)}",
            file=sys.stderr,
        )
    return common.EXIT_CHECK_FAILED if failed else common.EXIT_OK
