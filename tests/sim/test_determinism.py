"""Same scenario and seed: identical report and message log. Another seed: another log."""

from __future__ import annotations

from typing import Any

from bmc.engine.runner import run_virtual
from bmc.scenario import parse_scenario
from tests.sim.conftest import simulate


def _lossy(base: dict[str, Any]) -> dict[str, Any]:
    # Exercise every random stream: detection, noise, false alarms, links, Pk draws.
    base["launchers"][0]["pk"] = 0.6
    base["radars"][0]["false_alarms_per_scan"] = 2.0
    base["links"] = {"default": {"latency_s": 0.02, "jitter_s": 0.05, "loss": 0.02}}
    return base


def _without_wall_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "wall_time_s"}


def test_same_seed_same_report_and_digest(base: dict[str, Any]) -> None:
    scenario = parse_scenario(_lossy(base))
    first = run_virtual(scenario, seed=11).to_dict()
    second = run_virtual(scenario, seed=11).to_dict()
    assert _without_wall_time(first) == _without_wall_time(second)
    assert first["digest"] == second["digest"]


def test_same_seed_same_message_log(base: dict[str, Any]) -> None:
    data = _lossy(base)
    a = simulate(data, seed=3)
    b = simulate(data, seed=3)
    assert [(t, topic, msg.header) for t, topic, msg in a.log] == [
        (t, topic, msg.header) for t, topic, msg in b.log
    ]


def test_another_seed_another_digest(base: dict[str, Any]) -> None:
    scenario = parse_scenario(_lossy(base))
    assert run_virtual(scenario, seed=1).digest != run_virtual(scenario, seed=2).digest


def test_adding_a_radar_leaves_other_nodes_draws_alone(base: dict[str, Any]) -> None:
    # Streams are keyed by node id: R1's first scan is the same with or without R2.
    from protocols import messages as m

    one = simulate(base, seed=5)
    base["radars"].append({"id": "R2", "position": {"east_m": 5000, "north_m": 5000, "up_m": 20}})
    two = simulate(base, seed=5)

    def first_r1(run: Any) -> Any:
        return next(
            msg.body for _, topic, msg in run.log if topic.endswith("radar/R1/tracks") and len(msg.body)
        )

    a, b = first_r1(one), first_r1(two)
    assert isinstance(a, m.TrackReport)
    assert (a.state == b.state).all() and a.scan_time_s == b.scan_time_s
