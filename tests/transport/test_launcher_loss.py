"""A launcher process killed mid-raid: the FDC learns it from the broker's death
certificate, stops addressing it and re-assigns its target to the other launcher."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from bmc.engine.runner import run_virtual
from bmc.scenario import parse_scenario
from protocols import messages as m
from tests.transport.conftest import (
    BmcRunner,
    Broker,
    Subscriber,
    no_traceback,
    read_report,
    write_scenario,
)

pytestmark = pytest.mark.mqtt

SPEED = 20.0
HEARTBEAT_PERIOD_S = 1.0
SLACK_WALL_S = 1.0
"""Will publication, delivery to the cell, pacer wake-up, heartbeat back to us: a few ms when
healthy. The other ways the FDC could notice are far slower and so are excluded by the bound:
keep-alive expiry 1.5 x 5 s wall, silence 2.5 x status_period_s (30 s) / SPEED = 3.75 s wall."""


def scenario() -> dict[str, Any]:
    """L1 (external, preferred: higher Pk, slow to react) and L2 (simulated) defend one site
    against three drones arriving 15 s apart."""
    return {
        "name": "launcher_loss",
        "seed": 3,
        "duration_s": 110,
        "origin": {"lat_deg": 50.0, "lon_deg": 4.0},
        "assets": [{"id": "site", "position": {"east_m": 0, "north_m": 0}, "radius_m": 300, "value": 1}],
        "radars": [{"id": "R1", "position": {"east_m": 0, "north_m": 500, "up_m": 15}, "scan_period_s": 2}],
        "fdc": {"heartbeat_period_s": HEARTBEAT_PERIOD_S, "order_expiry_s": 20},
        "launchers": [
            {
                "id": "L1",
                "position": {"east_m": 500, "north_m": 0},
                "pk": 0.95,
                # 12 s simulated = 0.6 s wall: it is killed long before it could launch.
                "reaction_time_s": 12,
                "status_period_s": 30,
                "external": True,
            },
            {"id": "L2", "position": {"east_m": -500, "north_m": 0}, "pk": 0.9},
        ],
        "threats": [
            {
                "id": f"T{k}",
                "kind": "drone",
                "speed_mps": 100,
                "start_s": 15 * k,
                "waypoints": [
                    {"position": {"east_m": 9000 if k % 2 else -9000, "north_m": 9000, "up_m": 300}}
                ],
                "target": "site",
            }
            for k in range(3)
        ],
        "expect": ["leaked <= 0"],
    }


def test_killed_launcher_is_declared_lost_and_its_target_reassigned(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, subscriber: Any
) -> None:
    data = scenario()
    path = write_scenario(tmp_path, data, "loss.yaml")
    root = f"bmc/v1/{data['name']}"
    sub: Subscriber = subscriber(f"{root}/#")
    speed = str(SPEED)
    l1 = bmc("node", "L1", "--scenario", str(path), "--mqtt", broker.url, "--speed", speed, name="L1")
    out = tmp_path / "report.json"
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", speed, "--json", str(out), "--quiet", name="cell"
    )

    birth = sub.wait_for(
        lambda s: (
            isinstance(s.body, m.NodeState) and s.body.node_id == "L1" and s.body.status == m.NodeStatus.BIRTH
        ),
        30,
        "birth of L1",
        watch=[cell, l1],
    )
    first = sub.wait_for(
        lambda s: isinstance(s.body, m.FireOrder) and s.topic == f"{root}/launcher/L1/order",
        30,
        "fire order to L1",
        watch=[cell, l1],
    )
    killed_at = time.monotonic()
    l1.kill(signal.SIGKILL)
    assert l1.proc.returncode == -signal.SIGKILL

    lost = sub.wait_for(
        lambda s: isinstance(s.body, m.FdcHeartbeat) and "L1" in s.body.launchers_lost,
        10,
        "FDC heartbeat listing L1 lost",
        watch=[cell],
    )
    bound = 2 * HEARTBEAT_PERIOD_S / SPEED + SLACK_WALL_S
    assert lost.wall_s - killed_at <= bound, (
        f"lost after {lost.wall_s - killed_at:.3f} s wall (> {bound:.3f})"
    )

    code = cell.wait(60)
    assert code == 0, cell.describe()  # the scenario expects no leaker
    no_traceback(cell)
    report = read_report(out, cell)
    # The outcome is that of the cell without L1 from the start: L1 is killed before its
    # reaction time is over, so it fires nothing, and L2 (6 missiles, 110 s against drones
    # that need 127 s to reach the site) takes every drone. Kill draws come from the world's
    # seeded stream in detonation order: the same interceptors meet the same draws as in the
    # virtual run without L1, so kills, leakers and missiles are equal, not merely close.
    without_l1 = dict(data, launchers=[x for x in data["launchers"] if x["id"] != "L1"])
    clean = run_virtual(parse_scenario(without_l1)).to_dict()
    assert clean["threats"] == {"total": 3, "killed": 3, "leaked": 0, "alive_at_end": 0}, clean["threats"]
    assert report["threats"] == clean["threats"], (report["threats"], clean["threats"])
    assert report["missiles_fired"] == clean["missiles_fired"], (
        report["missiles_fired"],
        clean["missiles_fired"],
    )
    assert report["launchers"].get("L1", {}).get("fired", 0) == 0, report["launchers"]

    seen = sub.snapshot()
    # The broker published L1's will: a death of the life that was born.
    deaths = [
        s.body
        for s in seen
        if isinstance(s.body, m.NodeState) and s.body.node_id == "L1" and s.body.status == m.NodeStatus.DEATH
    ]
    assert deaths and deaths[0].birth_sequence == birth.body.birth_sequence, deaths
    # Killed before its reaction time was over: it never launched.
    launched_l1 = [
        s
        for s in seen
        if isinstance(s.body, m.EngagementStatus)
        and s.body.launcher_id == "L1"
        and s.body.state == m.EngagementState.LAUNCHED
    ]
    assert not launched_l1
    # No order to L1 issued (or resent) once the FDC declared it lost.
    orders = [(s, s.body) for s in seen if isinstance(s.body, m.FireOrder)]
    late_to_l1 = [o.order_id for s, o in orders if o.launcher_id == "L1" and s.sim_time_s > lost.sim_time_s]
    assert late_to_l1 == []
    after = [o for s, o in orders if s.sim_time_s > lost.sim_time_s]
    assert after and all(o.launcher_id == "L2" for o in after), [(o.order_id, o.launcher_id) for o in after]
    # Re-assignment: the target L1 was ordered to engage is given to L2.
    target = first.body.target_track_id
    assert any(o.target_track_id == target for o in after), (target, [o.target_track_id for o in after])
    # L2 really fired after the loss.
    launched_l2 = [
        s
        for s in seen
        if isinstance(s.body, m.EngagementStatus)
        and s.body.launcher_id == "L2"
        and s.body.state == m.EngagementState.LAUNCHED
        and s.sim_time_s > lost.sim_time_s
    ]
    assert launched_l2
    assert report["launchers"].get("L2", {}).get("fired", 0) >= 1
