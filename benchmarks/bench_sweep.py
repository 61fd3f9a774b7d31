"""Sweep throughput on 1 and 2 workers side by side, and the sweep machinery's cost per run.

    python benchmarks/bench_sweep.py [--runs 8] [--repeat 2] [--scenario sim_configs/belgium_nasams.yaml]

Three measurements of the same runs (the sweep's seeds, so the same work), taken in
turn ``--repeat`` times so that machine noise hits all three alike; the best of each
is reported:

1. ``run_sweep`` on 1 worker (in this process), into a fresh directory;
2. ``run_sweep`` on 2 workers (local process pool), into a fresh directory;
3. direct: ``run_virtual`` on each seed in this process, one after the other: the
   floor a sweep cannot beat on one core.

Each sweep is timed as a whole: seeds, validation, the journal, summary, checks and
the outputs (JSON, CSV, PNG; the first sweep also imports matplotlib). Printed: runs
per second of each, the 2-worker speed-up (goal >= 1.8x on two cores) and the
overhead per run, ``(sweep on 1 worker - direct) / runs`` as a share of a run (goal
<= 5 %), in wall time and in this process's CPU time (which other programs on the
machine inflate less), split into the outputs (a fixed cost per sweep, timed again
on their own) and the rest. The three must give the same message-log digests. The
load average is printed too: wall-clock figures only mean something on an
otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bmc.engine.runner import run_virtual  # noqa: E402
from bmc.scenario import Scenario, load_scenario  # noqa: E402
from bmc.sweep import SweepResult, default_workers, run_seed, run_sweep, write_outputs  # noqa: E402


def _direct(scenario: Scenario, seeds: list[int]) -> tuple[float, float, list[str]]:
    """(wall s, CPU s, digests) of the runs one after the other in this process."""
    wall = cpu = 0.0
    digests = []
    for seed in seeds:
        w0, c0 = time.perf_counter(), time.process_time()
        report = run_virtual(scenario, seed=seed)
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        digests.append(report.digest)
    return wall, cpu, digests


def _sweep(path: Path, runs: int, workers: int, out: Path) -> tuple[float, float, SweepResult]:
    """(wall s, CPU s of this process, result) of a whole sweep."""
    w0, c0 = time.perf_counter(), time.process_time()
    result = run_sweep(load_scenario(path), runs, out, workers=workers, fresh=True, source=str(path))
    return time.perf_counter() - w0, time.process_time() - c0, result


def _outputs(result: SweepResult) -> float:
    """Wall seconds to write a sweep's outputs again (JSON, CSV, PNG; matplotlib already imported)."""
    t0 = time.perf_counter()
    write_outputs(result)
    return time.perf_counter() - t0


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", type=Path, default=ROOT / "sim_configs" / "belgium_nasams.yaml")
    ap.add_argument("--runs", type=int, default=8, help="runs in each measurement (default 8)")
    ap.add_argument("--repeat", type=int, default=2, help="rounds of the three measurements (default 2)")
    args = ap.parse_args()
    scenario = load_scenario(args.scenario)
    seeds = [run_seed(scenario.seed, i) for i in range(args.runs)]
    load0 = os.getloadavg()
    inf = (float("inf"), float("inf"))
    best = {"direct": inf, "one": inf, "two": inf}
    digests: dict[str, list[str]] = {}
    outputs_s = float("inf")
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        for k in range(args.repeat):
            one = _sweep(args.scenario, args.runs, 1, Path(tmp) / f"one{k}")
            two = _sweep(args.scenario, args.runs, 2, Path(tmp) / f"two{k}")
            got = {
                "direct": _direct(scenario, seeds),
                "one": (one[0], one[1], [r["digest"] for r in one[2].rows]),
                "two": (two[0], two[1], [r["digest"] for r in two[2].rows]),
            }
            for name, (wall, cpu, digs) in got.items():
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
                digests[name] = digs
            outputs_s = min(outputs_s, _outputs(one[2]))
    load1 = os.getloadavg()

    n = args.runs
    (direct_s, direct_cpu), (one_s, one_cpu), (two_s, _) = best["direct"], best["one"], best["two"]
    run_s, run_cpu = direct_s / n, direct_cpu / n
    over_s, over_cpu = (one_s - direct_s) / n, (one_cpu - direct_cpu) / n
    same = digests["direct"] == digests["one"] == digests["two"]
    load = f"load average {load0[0]:.2f} before, {load1[0]:.2f} after"
    what = f"{n} runs (seeds from {scenario.seed}), best of {args.repeat}"
    print(f"scenario            {args.scenario.name}: {what}")
    print(f"cores               {default_workers()} usable; {load}")
    print(f"direct run_virtual  {direct_s:7.2f} s  {n / direct_s:6.3f} runs/s  ({run_s:.3f} s per run)")
    print(f"sweep, 1 worker     {one_s:7.2f} s  {n / one_s:6.3f} runs/s")
    print(f"sweep, 2 workers    {two_s:7.2f} s  {n / two_s:6.3f} runs/s")
    print(f"speed-up 2 vs 1     {one_s / two_s:.2f}x  (goal >= 1.8x)")
    print(
        f"overhead per run    wall {over_s * 1000:.1f} ms = {100 * over_s / run_s:.2f} %, "
        f"CPU {over_cpu * 1000:.1f} ms = {100 * over_cpu / run_cpu:.2f} % of a run  (goal <= 5 %)"
    )
    rest_s = over_s - outputs_s / n
    print(
        f"  of which outputs  {outputs_s:.2f} s per sweep (JSON, CSV, PNG) = {1000 * outputs_s / n:.1f} ms "
        f"per run; the rest {1000 * rest_s:.1f} ms = {100 * rest_s / run_s:.2f} % of a run"
    )
    print(f"same digests        {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
