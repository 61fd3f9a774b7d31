"""Small scenarios built in code, and a helper that runs one and keeps its message log."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from bmc.engine import runner
from bmc.engine.report import RunReport
from bmc.scenario import parse_scenario
from protocols import messages as m

BASE: dict[str, Any] = {
    "name": "unit",
    "seed": 7,
    "duration_s": 500,
    "origin": {"lat_deg": 50.0, "lon_deg": 4.0},
    "assets": [{"id": "site", "position": {"east_m": 0, "north_m": 0}, "radius_m": 300, "value": 1}],
    "radars": [{"id": "R1", "position": {"east_m": 0, "north_m": 0, "up_m": 20}, "scan_period_s": 2}],
    "launchers": [{"id": "L1", "position": {"east_m": 300, "north_m": 0}, "pk": 1.0}],
    "threats": [
        {
            "id": f"T{k}",
            "kind": "drone",
            "speed_mps": 50,
            "start_s": 20 * k,
            "waypoints": [{"position": {"east_m": 18000 - 2000 * k, "north_m": 8000 * (k - 1), "up_m": 300}}],
            "target": "site",
        }
        for k in range(3)
    ],
}


@dataclass
class Run:
    """A finished run: its report and every published message in order."""

    report: RunReport
    log: list[tuple[float, str, m.Message]] = field(default_factory=list)

    def bodies(self, kind: type) -> list[tuple[float, Any]]:
        """(time, body) of every message of ``kind``."""
        return [(t, msg.body) for t, _, msg in self.log if isinstance(msg.body, kind)]


def simulate(data: dict[str, Any], seed: int | None = None) -> Run:
    """Validate ``data`` as a scenario, run it in virtual time, keep the log."""
    scenario = parse_scenario(data)
    cell = runner.build(scenario, seed)
    log: list[tuple[float, str, m.Message]] = []
    cell.bus.add_tap(lambda t, topic, _payload, msg: log.append((t, topic, msg)))
    runner.start(cell)
    cell.env.run(until=scenario.duration_s)
    return Run(runner.report(cell, 0.0), log)


@pytest.fixture
def base() -> dict[str, Any]:
    """A fresh copy of the three-drone base scenario."""
    return copy.deepcopy(BASE)
