"""Cost of ``--record``: the same virtual run with and without an MCAP recorder, side by side.

    python benchmarks/bench_recording.py [--scenario sim_configs/belgium_nasams.yaml] [--repeat 5]

Runs alternate (plain, recorded, plain, recorded, ...) so machine noise hits both
alike. Prints the best and the median of each, in wall time and in the process's
CPU time (which other processes' load on a shared machine does not inflate), the
slowdown in percent, the recording's size and message count, and checks the
recorded run's digest equals the plain run's (recording must not change the run).
The budget is 20 % (issue 5), judged on the best CPU times.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bmc.engine.runner import run_virtual  # noqa: E402
from bmc.record import close_recorder, open_recorder  # noqa: E402
from bmc.scenario import load_scenario  # noqa: E402

BUDGET_PCT = 20.0


def main() -> int:
    """Run the benchmark, print its figures; exit 1 when over budget or the digests differ."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", type=Path, default=ROOT / "sim_configs" / "belgium_nasams.yaml")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    scenario = load_scenario(args.scenario)
    times: dict[str, list[tuple[float, float]]] = {"plain": [], "recorded": []}
    digests: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.mcap"
        messages = size = 0
        for _ in range(args.repeat):
            for kind in ("plain", "recorded"):
                gc.collect()
                w0, c0 = time.perf_counter(), time.process_time()
                if kind == "plain":
                    report = run_virtual(scenario)
                else:
                    recorder = open_recorder(path, scenario, source=args.scenario)
                    report = run_virtual(scenario, taps=[recorder])
                    close_recorder(recorder, report.to_dict())
                    messages, size = recorder.count, path.stat().st_size
                times[kind].append((time.perf_counter() - w0, time.process_time() - c0))
                digests.add(report.digest)

    def pct(a: float, b: float) -> float:
        return 100.0 * (a / b - 1.0)

    print(f"scenario   {scenario.name} ({args.scenario}), {args.repeat} interleaved pairs")
    slow: dict[str, float] = {}
    for i, clock_name in enumerate(("wall", "cpu")):
        p = [t[i] for t in times["plain"]]
        r = [t[i] for t in times["recorded"]]
        print(f"{clock_name:<4} plain      best {min(p):.3f} s, median {statistics.median(p):.3f} s")
        print(f"{clock_name:<4} recorded   best {min(r):.3f} s, median {statistics.median(r):.3f} s")
        slow[clock_name] = pct(min(r), min(p))
        print(
            f"{clock_name:<4} slowdown   best {slow[clock_name]:+.1f} %, "
            f"median {pct(statistics.median(r), statistics.median(p)):+.1f} % (budget {BUDGET_PCT:g} %)"
        )
    print(f"recording  {messages} messages, {size / 1e6:.2f} MB ({size / max(messages, 1):.0f} B/message)")
    print(f"digests    {'identical' if len(digests) == 1 else 'DIFFER: ' + ', '.join(sorted(digests))}")
    best = slow["cpu"]
    return 0 if len(digests) == 1 and best <= BUDGET_PCT else 1


if __name__ == "__main__":
    sys.exit(main())
