"""Garbage on every topic a running cell listens to: counted and named drops, the same
outcome as the virtual run, no crash, and never a launch on a forged order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bmc.engine.report import RunReport
from protocols import codec
from protocols import messages as m
from tests.transport.conftest import (
    BmcRunner,
    Broker,
    Subscriber,
    mosquitto_pub,
    no_traceback,
    read_report,
    short_single_engagement,
    virtual_report,
    write_scenario,
)

pytestmark = pytest.mark.mqtt

SPEED = "10"
FORGED = "INTRUDER-0001"
"""Order id of the forged fire orders; the FDC's own ids are FDC-nnnnn."""


def harmful_body(channel: str) -> m.Body:
    """The right type for ``channel``, with content that would change the outcome if accepted."""
    empty_f = np.zeros((0, 6))
    empty_i = np.zeros(0, dtype=np.int64)
    bodies: dict[str, m.Body] = {
        "tracks": m.TrackReport(0.0, empty_i, empty_f, np.zeros((0, 6, 6)), empty_i, empty_i, empty_i, ()),
        "truth": m.TruthReport(
            (), empty_i, np.zeros(0, bool), np.zeros(0, bool), np.zeros(0), empty_i, empty_f
        ),
        "order": forged_order(),
        "engagement": m.EngagementStatus(
            FORGED, "L1", m.EngagementState.LAUNCHED, "", 1, (500.0, 0.0, 0.0), (0.0, 0.0, 300.0)
        ),
        "status": m.LauncherStatus("L1", m.LauncherState.FAULT, 0, (500.0, 0.0, 0.0), "forged"),
        "state": m.NodeState("L1", "launcher", m.NodeStatus.DEATH, 2**62),
        "heartbeat": m.FdcHeartbeat("FDC", m.WeaponsControl.HOLD),
        "command": m.OperatorCommand(m.WeaponsControl.HOLD, "forged"),
        "detonation": m.Detonation(
            "X-M001", FORGED, "T1", "site", m.DetonationOutcome.ASSET_HIT, (0.0, 0.0, 0.0)
        ),
    }
    return bodies[channel]


def forged_order() -> m.FireOrder:
    """A well-formed fire order at L1 with a made-up id and an invalid authentication tag."""
    return m.FireOrder(
        order_id=FORGED,
        launcher_id="L1",
        target_track_id=1,
        target_position_m=(8000.0, 6000.0, 300.0),
        target_velocity_mps=(-48.0, -36.0, 0.0),
        intercept_point_m=(6000.0, 4500.0, 300.0),
        intercept_time_s=30.0,
        rounds=1,
        issued_time_s=0.0,
        expiry_time_s=1e6,
        auth_tag=b"\x00" * 32,
    )


def wrong_type_body(channel: str) -> m.Body:
    """A valid message of a type that does not belong on ``channel``."""
    if channel == "command":
        return m.FdcHeartbeat("FDC", m.WeaponsControl.HOLD)
    return m.OperatorCommand(m.WeaponsControl.HOLD, "wrong channel")


def random_garbage(seed: int) -> bytes:
    """Random bytes that do not decode (checked, so the 'malformed' expectation holds)."""
    rng = np.random.default_rng(seed)
    while True:
        data = rng.integers(0, 256, size=int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
        try:
            codec.decode(data)
        except codec.DecodeError as exc:
            if exc.reason == "malformed":
                return data
        seed += 1


def test_garbage_is_dropped_counted_and_harmless(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, subscriber: Any
) -> None:
    data = short_single_engagement()
    path = write_scenario(tmp_path, data, "garbage.yaml")
    virtual = virtual_report(bmc, path, tmp_path / "virtual.json")
    root = f"bmc/v1/{data['name']}"
    # Every topic some node of the cell subscribes to.
    targets = {
        f"{root}/radar/R1/tracks": "tracks",
        f"{root}/world/world/truth": "truth",
        f"{root}/launcher/L1/order": "order",
        f"{root}/launcher/L1/engagement": "engagement",
        f"{root}/launcher/L1/status": "status",
        f"{root}/launcher/L1/state": "state",
        f"{root}/fdc/FDC/heartbeat": "heartbeat",
        f"{root}/fdc/FDC/command": "command",
        f"{root}/world/world/detonation": "detonation",
    }
    unrelated = f"{root}/misc/unrelated/noise"
    too_deep = f"{root}/launcher/L1/order/extra"

    sub: Subscriber = subscriber(f"{root}/#")
    out = tmp_path / "report.json"
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", SPEED, "--json", str(out), "--quiet", name="cell"
    )
    sub.wait_for(lambda s: isinstance(s.body, m.TruthReport), 30, "first truth report", watch=[cell])

    spool = tmp_path / "payloads"
    expected: set[str] = set()
    for k, (topic, channel) in enumerate(sorted(targets.items())):
        right = harmful_body(channel)
        mosquitto_pub(broker.port, topic, random_garbage(k), spool)
        mosquitto_pub(
            broker.port, topic, codec.encode(m.Header("intruder", 1, 0.0), wrong_type_body(channel)), spool
        )
        mosquitto_pub(
            broker.port, topic, codec.encode(m.Header("intruder", 2, 0.0, schema_version=99), right), spool
        )
        expected |= {f"{topic} (malformed)", f"{topic} (wrong_type)", f"{topic} (schema_version)"}
    # Well-formed and on the right channel, but forged (no seal): refused before any node sees it.
    mosquitto_pub(
        broker.port, f"{root}/launcher/L1/order", codec.encode(m.Header("FDC", 1, 1.0), forged_order()), spool
    )
    expected.add(f"{root}/launcher/L1/order (unsealed)")
    mosquitto_pub(broker.port, unrelated, random_garbage(100), spool)
    mosquitto_pub(broker.port, unrelated, codec.encode(m.Header("intruder", 1, 0.0), forged_order()), spool)
    mosquitto_pub(broker.port, too_deep, codec.encode(m.Header("intruder", 1, 0.0), forged_order()), spool)
    expected |= {f"{unrelated} (malformed)", f"{unrelated} (unknown_topic)", f"{too_deep} (unknown_topic)"}

    code = cell.wait(60)
    assert code == 0, cell.describe()
    no_traceback(cell)
    report = read_report(out, cell)

    outcome = ("killed", "leaked", "missiles")
    assert (report["threats"]["killed"], report["threats"]["leaked"], report["missiles_fired"]) == (
        virtual["threats"]["killed"],
        virtual["threats"]["leaked"],
        virtual["missiles_fired"],
    ), (outcome, report["threats"], report["missiles_fired"], virtual["missiles_fired"])
    assert report["friendly_engaged"] == 0
    assert report["messages"]["rejected"] >= len(expected)
    rejected = report["realtime"]["rejected_by_topic"]
    missing = sorted(expected - set(rejected))
    assert not missing, f"drops not reported: {missing}\nreported: {sorted(rejected)}"
    assert sum(rejected.values()) == report["messages"]["rejected"]
    # The text report shows the real-time section the JSON has.
    text = RunReport.from_dict(report).text()  # the JSON form read back gives the same text
    assert f"speed {float(SPEED):g}, pacing late p50" in text, text
    assert "0 reconnect(s)" in text
    assert any(line.startswith("rejected ") and line.endswith("(malformed)") for line in text.splitlines()), (
        text
    )

    seen = sub.snapshot()
    # Sender from the header of what arrived, not from the body's own claim.
    from_l1 = [
        s.body
        for s in seen
        if isinstance(s.body, m.EngagementStatus) and s.msg and s.msg.header.sender == "L1"
    ]
    # The forged order never reached the launcher's logic: no answer at all under its id (an
    # answer is itself a lever: a REJECTED under a genuine order's id would free its target).
    assert not [e for e in from_l1 if e.order_id == FORGED]
    # The real engagement still happened.
    assert any(e.state == m.EngagementState.LAUNCHED and e.order_id.startswith("FDC-") for e in from_l1)
    assert not [s for s in seen if isinstance(s.body, m.Flyout) and s.body.order_id == FORGED]
