"""Speed of a virtual run next to bare SimPy, measured side by side in one process.

    python benchmarks/bench_engine.py [--scenario sim_configs/saturation_raid.yaml] [--repeat 3]

Prints simulated seconds per wall second, SimPy events per second, and the
ratio of the emulator's event rate to a bare SimPy loop's (the cost of our
per-event Python work). Runs alternate so machine noise hits both alike; the
best of ``--repeat`` is reported.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bmc.engine import runner  # noqa: E402
from bmc.engine.report import RunReport  # noqa: E402
from bmc.scenario import load_scenario  # noqa: E402


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes."""

    def __init__(self) -> None:
        super().__init__()
        self.events = 0

    def step(self) -> None:
        self.events += 1
        super().step()


def run_emulator(path: Path) -> tuple[float, int, float, RunReport]:
    """(wall s, events, simulated s, report) of one virtual run."""
    scenario = load_scenario(path)
    t0 = time.perf_counter()
    env = CountingEnvironment()
    cell = runner.build(scenario, env=env)
    runner.start(cell)
    env.run(until=scenario.duration_s)
    wall = time.perf_counter() - t0
    return wall, env.events, scenario.duration_s, runner.report(cell, wall)


def run_bare(events: int, processes: int = 50) -> tuple[float, int]:
    """(wall s, events) of a bare SimPy loop processing about ``events`` events."""
    env = CountingEnvironment()
    per = max(events // processes, 1)

    def ticker(k: int) -> Generator[simpy.Event, Any, None]:
        for _ in range(per):
            yield env.timeout(1.0 + k * 1e-3)

    for k in range(processes):
        env.process(ticker(k))
    t0 = time.perf_counter()
    env.run()
    return time.perf_counter() - t0, env.events


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", type=Path, default=ROOT / "sim_configs" / "saturation_raid.yaml")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    best_emu: tuple[float, int, float, RunReport] | None = None
    best_bare: tuple[float, int] | None = None
    for _ in range(args.repeat):
        emu = run_emulator(args.scenario)
        bare = run_bare(emu[1])
        if best_emu is None or emu[0] < best_emu[0]:
            best_emu = emu
        if best_bare is None or bare[0] < best_bare[0]:
            best_bare = bare
    assert best_emu is not None and best_bare is not None
    wall, events, sim_s, report = best_emu
    bare_wall, bare_events = best_bare
    emu_rate = events / wall
    bare_rate = bare_events / bare_wall
    print(
        f"scenario              {args.scenario.name}: {report.threats.total} threats, "
        f"{report.missiles_fired} missiles, {report.messages['published']} messages"
    )
    print(
        f"emulator              {sim_s:.0f} simulated s in {wall:.3f} wall s = {sim_s / wall:.0f}x real time"
    )
    print(f"emulator events/s     {emu_rate:,.0f} ({events:,} events)")
    print(f"bare SimPy events/s   {bare_rate:,.0f} ({bare_events:,} events)")
    print(f"ratio emulator/bare   {emu_rate / bare_rate:.3f}")
    print(f"messages/s (wall)     {(report.messages['published'] or 0) / wall:,.0f}")


if __name__ == "__main__":
    main()
