"""Engagement outcomes on small scenarios whose answer is known in advance."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from typing import Any

from bmc.engine.report import Threats
from protocols import messages as m
from tests.sim.conftest import simulate


def test_pk_one_kills_every_reachable_threat(base: dict[str, Any]) -> None:
    run = simulate(base)
    t = run.report.threats
    assert t == Threats(total=3, killed=3, leaked=0, alive_at_end=0)
    # Pk 1 and shoot-look-shoot: exactly one missile per kill.
    assert run.report.missiles_fired == 3
    assert run.report.assets == {"site": 0}


def test_pk_zero_every_threat_leaks(base: dict[str, Any]) -> None:
    base["launchers"][0]["pk"] = 0.0
    run = simulate(base)
    t = run.report.threats
    assert t.killed == 0
    assert t.leaked == 3
    assert run.report.assets == {"site": 3}
    # It keeps trying while time allows: more than one missile per threat.
    assert run.report.missiles_fired > 3


def test_threat_outside_every_envelope_draws_no_launch(base: dict[str, Any]) -> None:
    # The launcher defends a point 60 km away from the attacked site.
    base["launchers"][0]["position"] = {"east_m": -60000, "north_m": 0}
    run = simulate(base)
    assert run.report.missiles_fired == 0
    assert run.bodies(m.FireOrder) == []
    assert run.report.threats.leaked == 3


def test_too_high_for_the_envelope_draws_no_launch(base: dict[str, Any]) -> None:
    base["launchers"][0]["max_altitude_m"] = 200
    base["threats"] = [
        {
            "id": "HIGH",
            "kind": "fighter",
            "speed_mps": 200,
            "waypoints": [
                {"position": {"east_m": 20000, "north_m": 0, "up_m": 9000}},
                {"position": {"east_m": 0, "north_m": 0, "up_m": 9000}},
                {"position": {"east_m": -20000, "north_m": 0, "up_m": 9000}},
            ],
        }
    ]
    run = simulate(base)
    assert run.bodies(m.FireOrder) == []
    assert run.report.missiles_fired == 0


def test_weapons_hold_draws_no_launch(base: dict[str, Any]) -> None:
    base["fdc"] = {"weapons_control": "hold"}
    run = simulate(base)
    assert run.bodies(m.FireOrder) == []
    assert run.report.missiles_fired == 0
    assert run.report.threats.leaked == 3
    heartbeats = run.bodies(m.FdcHeartbeat)
    assert heartbeats and all(h.weapons_control == m.WeaponsControl.HOLD for _, h in heartbeats)


def test_weapons_tight_engages_only_identified_hostiles(base: dict[str, Any]) -> None:
    # A fighter-like unknown (no IFF) attacks alongside the drones: TIGHT engages drones only.
    base["fdc"] = {"weapons_control": "tight"}
    base["threats"].append(
        {
            "id": "UNK",
            "kind": "fighter",
            "speed_mps": 220,
            "start_s": 100,
            "waypoints": [{"position": {"east_m": 0, "north_m": -20000, "up_m": 3000}}],
            "target": "site",
        }
    )
    run = simulate(base)
    targets = {f.target_object_id for _, f in run.bodies(m.Flyout)}
    assert targets == {"T0", "T1", "T2"}


def test_friend_is_never_engaged(base: dict[str, Any]) -> None:
    base["threats"].append(
        {
            "id": "F1",
            "kind": "transport",
            "friendly": True,
            "speed_mps": 120,
            "waypoints": [
                {"position": {"east_m": 15000, "north_m": 1000, "up_m": 1500}},
                {"position": {"east_m": -15000, "north_m": 0, "up_m": 800}},
            ],
        }
    )
    run = simulate(base)
    assert run.report.friendly_engaged == 0
    assert "F1" not in {f.target_object_id for _, f in run.bodies(m.Flyout)}
    assert run.report.threats.killed == 3


def test_salvo_two_fires_two_missiles_per_engagement(base: dict[str, Any]) -> None:
    base["fdc"] = {"doctrine": "salvo-2"}
    run = simulate(base)
    per_order = Counter(f.order_id for _, f in run.bodies(m.Flyout))
    assert per_order and set(per_order.values()) == {2}
    assert all(o.rounds == 2 for _, o in run.bodies(m.FireOrder))
    assert run.report.missiles_fired == 2 * len(per_order)
    assert run.report.threats.killed == 3


def test_shoot_look_shoot_reengages_after_a_miss(base: dict[str, Any]) -> None:
    base["launchers"][0]["pk"] = 0.4
    run = simulate(base)
    orders = run.bodies(m.FireOrder)
    detonations = {d.order_id: (t, d) for t, d in run.bodies(m.Detonation) if d.order_id}
    by_track: dict[int, list[tuple[float, m.FireOrder]]] = defaultdict(list)
    for t, o in orders:
        by_track[o.target_track_id].append((t, o))
    reengaged = 0
    for seq in by_track.values():
        for (_, first), (t_next, _) in itertools.pairwise(seq):
            t_det, det = detonations[first.order_id]
            # The next order on the same track follows the miss, never precedes it.
            assert det.outcome == m.DetonationOutcome.MISS
            assert t_next >= t_det
            reengaged += 1
    assert reengaged >= 1
    assert all(o.rounds == 1 for _, o in orders)


def test_lost_fire_orders_are_resent_and_executed_once(base: dict[str, Any]) -> None:
    base["links"] = {"order": {"loss": 0.5, "latency_s": 0.05}}
    run = simulate(base, seed=0)
    orders = run.bodies(m.FireOrder)
    ids = Counter(o.order_id for _, o in orders)
    dropped = run.report.messages["dropped"]
    assert dropped > 0
    # Every lost copy was sent again, and nothing else was.
    assert len(orders) == len(ids) + dropped
    launched = Counter(
        s.order_id for _, s in run.bodies(m.EngagementStatus) if s.state == m.EngagementState.LAUNCHED
    )
    assert launched and set(launched.values()) == {1}
    assert run.report.threats.killed == 3


def test_launcher_holds_without_heartbeat(base: dict[str, Any]) -> None:
    # Heartbeats are lost entirely: the launcher never arms, nothing is fired.
    base["links"] = {"heartbeat": {"loss": 0.999999}}
    run = simulate(base)
    assert run.report.missiles_fired == 0
    states = [s.state for _, s in run.bodies(m.LauncherStatus)]
    assert m.LauncherState.READY not in states


def test_launcher_goes_to_hold_when_heartbeats_stop(base: dict[str, Any]) -> None:
    base["launchers"][0]["heartbeat_timeout_s"] = 2.5
    base["fdc"] = {"heartbeat_period_s": 1.0}
    base["links"] = {"heartbeat": {"loss": 0.6}}
    run = simulate(base)
    statuses = [(t, s) for t, s in run.bodies(m.LauncherStatus)]
    holds = [t for t, s in statuses if s.state == m.LauncherState.HOLD]
    assert holds, "with 60 % heartbeat loss some gap must exceed the timeout"
    assert any(s.state == m.LauncherState.READY and t > holds[0] for t, s in statuses)
    # No launch while in HOLD.
    launches = [t for t, s in run.bodies(m.EngagementStatus) if s.state == m.EngagementState.LAUNCHED]
    timeline = sorted([(t, "status", s.state) for t, s in statuses] + [(t, "launch", None) for t in launches])
    state = m.LauncherState.SAFE
    for _, what, st in timeline:
        if what == "status":
            state = st
        else:
            assert state == m.LauncherState.ENGAGING


def test_close_pair_seen_by_two_radars_both_killed(base: dict[str, Any]) -> None:
    # Two drones 500 m apart in tandem, seen by two radars: fusion may join their tracks;
    # the second must still be engaged once the first is killed.
    base["radars"].append({"id": "R2", "position": {"east_m": 6000, "north_m": -6000, "up_m": 20}})
    base["threats"] = [
        {
            "id": f"P{k}",
            "kind": "drone",
            "speed_mps": 45,
            "waypoints": [{"position": {"east_m": 16000 + 500 * k, "north_m": 3000, "up_m": 150}}],
            "target": "site",
        }
        for k in range(2)
    ]
    for seed in (1, 2, 3):
        run = simulate(base, seed=seed)
        assert run.report.threats.killed == 2, (seed, run.report.threats)
