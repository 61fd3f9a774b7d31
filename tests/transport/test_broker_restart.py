"""The broker dies mid-engagement and comes back on the same port: every connection
reconnects, launchers that lost the FDC heartbeat went to HOLD, no order is executed twice."""

from __future__ import annotations

import signal
import time
from collections import Counter
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
    mosquitto_pub,
    no_traceback,
    read_report,
    short_single_engagement,
    write_scenario,
)

pytestmark = pytest.mark.mqtt

SPEED = 10.0
HEARTBEAT_TIMEOUT_S = 3.0
OUTAGE_WALL_S = 2.0
"""20 s simulated: far beyond the launcher's 3 s heartbeat timeout, so it must go to HOLD."""
assert OUTAGE_WALL_S * SPEED > 2 * HEARTBEAT_TIMEOUT_S
REPLAYS = 3


def scenario(external_launcher: bool) -> dict[str, Any]:
    """One launcher slow to react (5 s), one drone engaged before the outage, one arriving after it."""
    return {
        "name": "broker_restart",
        "seed": 5,
        "duration_s": 90,
        "origin": {"lat_deg": 50.0, "lon_deg": 4.0},
        "assets": [{"id": "site", "position": {"east_m": 0, "north_m": 0}, "radius_m": 300, "value": 1}],
        "radars": [{"id": "R1", "position": {"east_m": 0, "north_m": 500, "up_m": 15}, "scan_period_s": 2}],
        "launchers": [
            {
                "id": "L1",
                "position": {"east_m": 500, "north_m": 0},
                "pk": 0.9,
                "reaction_time_s": 5,
                "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
                "external": external_launcher,
            }
        ],
        "threats": [
            {
                "id": f"T{k}",
                "kind": "drone",
                "speed_mps": 100,
                "start_s": start_s,
                "waypoints": [
                    {"position": {"east_m": 9000 if k % 2 else -9000, "north_m": 9000, "up_m": 300}}
                ],
                "target": "site",
            }
            for k, start_s in enumerate((0, 40))
        ],
    }


@pytest.mark.parametrize(
    ("sig", "external_launcher"),
    [
        pytest.param(signal.SIGTERM, False, id="sigterm-cell"),
        pytest.param(signal.SIGKILL, False, id="sigkill-cell"),
        pytest.param(signal.SIGKILL, True, id="sigkill-external-launcher"),
    ],
)
def test_run_survives_a_broker_restart(
    tmp_path: Path,
    broker: Broker,
    bmc: BmcRunner,
    subscriber: Any,
    sig: signal.Signals,
    external_launcher: bool,
) -> None:
    data = scenario(external_launcher)
    path = write_scenario(tmp_path, data, "restart.yaml")
    root = f"bmc/v1/{data['name']}"
    sub: Subscriber = subscriber(f"{root}/#")
    speed = str(SPEED)
    procs = []
    if external_launcher:
        l1 = bmc("node", "L1", "--scenario", str(path), "--mqtt", broker.url, "--speed", speed, name="L1")
        procs.append(l1)
    out = tmp_path / "report.json"
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", speed, "--json", str(out), "--quiet", name="cell"
    )
    procs.append(cell)

    # Mid-engagement: the launcher has just accepted its first order and is counting down to launch.
    sub.wait_for(
        lambda s: isinstance(s.body, m.EngagementStatus) and s.body.state == m.EngagementState.ACCEPTED,
        40,
        "first ACCEPTED",
        watch=procs,
    )
    broker.stop(sig)
    assert not broker.running
    time.sleep(OUTAGE_WALL_S)
    broker.start()
    restarted_at = time.monotonic()
    sub.wait_subscribed(5)

    # QoS 1 is at-least-once: replay, byte for byte, the order launched after the restart and
    # every order sent before the outage, as a redelivery would. None may be executed again.
    fresh_launch = sub.wait_for(
        lambda s: (
            isinstance(s.body, m.EngagementStatus)
            and s.body.state == m.EngagementState.LAUNCHED
            and s.wall_s > restarted_at
        ),
        30,
        "a launch after the restart",
        watch=procs,
    )
    orders = {s.body.order_id: s for s in sub.snapshot() if isinstance(s.body, m.FireOrder)}
    replay = [orders[fresh_launch.body.order_id]] * REPLAYS
    replay += [s for s in orders.values() if s.wall_s < restarted_at]
    replayed_at = time.monotonic()
    for s in replay:
        mosquitto_pub(broker.port, s.topic, s.payload, tmp_path / "replay")

    code = cell.wait(60)
    assert code == 0, cell.describe()
    if external_launcher:
        assert l1.wait(30) == 0, l1.describe()
    no_traceback(*procs)
    report = read_report(out, cell)
    assert report["realtime"]["reconnects"] > 0, report["realtime"]
    assert report["sim_time_s"] == pytest.approx(data["duration_s"])
    # The outcome is the clean run's, exactly. The outage voids the first order before its
    # launch (HOLD after 3 s, launch after 5 s), so no interceptor is lost to it; the FDC
    # re-engages with 50 s to spare before the drones could reach the site (they need 90 s+).
    # Kill draws come from the world's seeded stream in detonation order, so the same
    # interceptors meet the same draws: kills, leakers and missiles equal the virtual run's.
    clean = run_virtual(parse_scenario(scenario(external_launcher=False))).to_dict()
    assert clean["threats"] == {"total": 2, "killed": 2, "leaked": 0, "alive_at_end": 0}, clean["threats"]
    assert report["threats"] == clean["threats"], (report["threats"], clean["threats"])
    assert report["missiles_fired"] == clean["missiles_fired"], (
        report["missiles_fired"],
        clean["missiles_fired"],
    )
    assert report["friendly_engaged"] == 0

    seen = sub.snapshot()
    after = [s for s in seen if s.wall_s > restarted_at]
    # The launcher lost the heartbeat while the broker was away, and said so once it could.
    holds = [
        s
        for s in after
        if isinstance(s.body, m.LauncherStatus)
        and s.body.launcher_id == "L1"
        and s.body.state == m.LauncherState.HOLD
    ]
    assert holds, "no HOLD status from L1 after the restart"
    # Every connection was born again on the new broker (the old one's retained births are gone).
    reborn = {
        s.body.node_id
        for s in after
        if isinstance(s.body, m.NodeState) and s.body.status == m.NodeStatus.BIRTH
    }
    assert {"world", "R1", "L1", "FDC"} <= reborn, reborn

    launched = [
        s.body
        for s in seen
        if isinstance(s.body, m.EngagementStatus) and s.body.state == m.EngagementState.LAUNCHED
    ]
    assert launched, "nothing was launched at all: the duplicate check below would be empty"
    # Each replayed copy is refused by its seal's replay window, by the launcher and the monitor
    # alike (counted on the order topic), before any launcher logic sees it.
    refused = report["realtime"]["rejected_by_topic"]
    replays = sum(n for k, n in refused.items() if k.endswith("/order (replay)"))
    assert replays >= len(replay), refused
    answers = Counter(
        s.body.order_id for s in seen if isinstance(s.body, m.EngagementStatus) and s.wall_s > replayed_at
    )
    assert not set(answers) & {s.body.order_id for s in replay[REPLAYS:]}, answers
    per_round = Counter((e.order_id, e.round) for e in launched)
    assert max(per_round.values()) == 1, [k for k, n in per_round.items() if n > 1]
    flyouts = Counter(s.body.interceptor_id for s in seen if isinstance(s.body, m.Flyout))
    assert flyouts and max(flyouts.values()) == 1, [k for k, n in flyouts.items() if n > 1]

    # The cell engaged again after the outage: an order first seen after the restart was launched.
    first_seen: dict[str, float] = {}
    for s in seen:
        if isinstance(s.body, m.FireOrder):
            first_seen.setdefault(s.body.order_id, s.wall_s)
    fresh = [e for e in launched if e.launcher_id == "L1" and first_seen.get(e.order_id, 0.0) > restarted_at]
    assert fresh, f"L1 launched nothing on orders sent after the restart: {sorted(first_seen)}"


# ---------------------------------------------------------------- at-least-once redelivery
#
# A reconnect can deliver a QoS 1 message twice: MqttEndpoint._publish_on puts a publish that
# failed (connection lost before the PUBACK) back in the outbox and sends it again on the new
# connection, and the broker cannot tell the copy from the original. The receivers of reports
# must therefore be idempotent too, not only the launcher for orders. Here the copy is produced
# directly, byte for byte, with mosquitto_pub.


def test_redelivered_launch_report_flies_no_second_interceptor(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, subscriber: Any
) -> None:
    data = short_single_engagement()
    path = write_scenario(tmp_path, data, "dup.yaml")
    sub: Subscriber = subscriber(f"bmc/v1/{data['name']}/#")
    out = tmp_path / "report.json"
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", "20", "--json", str(out), "--quiet", name="cell"
    )
    launched = sub.wait_for(
        lambda s: isinstance(s.body, m.EngagementStatus) and s.body.state == m.EngagementState.LAUNCHED,
        30,
        "first LAUNCHED",
        watch=[cell],
    )
    mosquitto_pub(broker.port, launched.topic, launched.payload, tmp_path / "dup")
    # Preconditions fail with pytest.fail, not assert: only the checks below may be the expected failure.
    if cell.wait(60) not in (0, 1):
        pytest.fail(cell.describe())
    report = read_report(out, cell)
    seen = sub.snapshot()
    interceptors = {
        s.body.interceptor_id
        for s in seen
        if isinstance(s.body, m.EngagementStatus) and s.body.state == m.EngagementState.LAUNCHED
    }
    flyouts = Counter(s.body.interceptor_id for s in seen if isinstance(s.body, m.Flyout))
    assert flyouts[launched.body.interceptor_id] == 1, flyouts
    assert report["missiles_fired"] == len(interceptors), (report["missiles_fired"], sorted(interceptors))


def test_redelivered_detonation_does_not_end_a_salvo_early(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, subscriber: Any
) -> None:
    data = short_single_engagement()
    data["duration_s"] = 45
    data["fdc"] = {"doctrine": "salvo-2", "order_expiry_s": 30}
    # Almost sure misses and a long gap between the two rounds of the salvo: the copy of the
    # first detonation arrives while the second interceptor is still flying.
    data["launchers"][0].update({"pk": 0.05, "salvo_interval_s": 8})
    path = write_scenario(tmp_path, data, "salvo.yaml")
    sub: Subscriber = subscriber(f"bmc/v1/{data['name']}/#")
    out = tmp_path / "report.json"
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", "10", "--json", str(out), "--quiet", name="cell"
    )
    first = sub.wait_for(lambda s: isinstance(s.body, m.Detonation), 30, "first detonation", watch=[cell])
    if first.body.outcome != m.DetonationOutcome.MISS:
        pytest.fail(f"the first interceptor must miss for this test (seed/pk changed?): {first.body}")
    mosquitto_pub(broker.port, first.topic, first.payload, tmp_path / "dup")
    if cell.wait(60) not in (0, 1):
        pytest.fail(cell.describe())
    seen = sub.snapshot()
    order = next(
        s.body for s in seen if isinstance(s.body, m.FireOrder) and s.body.order_id == first.body.order_id
    )
    salvo = [s for s in seen if isinstance(s.body, m.Detonation) and s.body.order_id == order.order_id]
    salvo_ids = {s.body.interceptor_id for s in salvo}
    if len(salvo_ids) != 2:
        pytest.fail(f"both rounds of the salvo must detonate within the run: {salvo_ids}")
    last_detonation_s = max(s.sim_time_s for s in salvo)
    early = [
        s.body.order_id
        for s in seen
        if isinstance(s.body, m.FireOrder)
        and s.body.target_track_id == order.target_track_id
        and s.body.order_id != order.order_id
        and s.body.issued_time_s < last_detonation_s
    ]
    assert early == [], (
        f"re-engaged at {early} before the salvo's last detonation at {last_detonation_s:.2f} s"
    )
