"""An outsider on the broker cannot move the cell (docs/SECURITY.md, claims O1-O4).

A second MQTT client without the cell's keys publishes, during a real-time run with keys
from `bmc keys init`, every kind of message that changes what the cell does: operator
commands, radar tracks (an unknown radar's and the real radar's), FDC heartbeats, a death
certificate, a detonation, a launcher's engagement report, a fire order. Each is sealed
with the keys an outsider *can* compute (the public demo keys), or not sealed at all, and
genuine messages captured earlier are replayed. The run's outcome must be the clean run's
and every refusal must be counted under its topic and reason. No key may appear in any
output of the run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bmc.keys import derived
from bmc.scenario import parse_scenario
from protocols import codec
from protocols import messages as m
from protocols.auth import OPERATOR
from tests.transport.conftest import (
    BmcRunner,
    Broker,
    Subscriber,
    external,
    mosquitto_pub,
    no_traceback,
    read_report,
    short_single_engagement,
    virtual_report,
    write_scenario,
)

pytestmark = pytest.mark.mqtt

SPEED = "20"
FORGE_S = 1.0


def _spoofs(data: dict[str, Any], genuine: list[tuple[str, bytes]]) -> list[tuple[str, bytes, str]]:
    """(topic, payload, the reason every receiver must give) of each forgery."""
    s = parse_scenario(data)
    root = f"bmc/v1/{s.name}"
    demo = derived(s)
    # The outsider's best guess at the keys: the public ones, in a life numbered above any.
    outsider = demo.keyring(demo.roles.nodes, epoch=1 << 50)

    def sealed(topic: str, sender: str, body: m.Body, time_s: float = 1.0) -> bytes:
        return outsider.seal(root, topic, sender, codec.encode(m.Header(sender, 7, time_s), body))

    hold = m.OperatorCommand(m.WeaponsControl.HOLD, "outsider")
    ghost = m.TrackReport(
        scan_time_s=5.0,
        track_id=np.array([1]),
        state=np.array([[3000.0, 2000.0, 500.0, -50.0, -30.0, 0.0]]),
        covariance=np.eye(6)[None, :, :],
        status=np.array([int(m.TrackStatus.CONFIRMED)]),
        identity=np.array([int(m.Identity.HOSTILE)]),
        classification=np.array([int(m.Classification.DRONE)]),
        truth_id=("",),
    )
    order = codec.sign_order(
        m.FireOrder(
            "FDC-99999", "L1", 1, (3000.0, 2000.0, 500.0), (-50.0, -30.0, 0.0), (2000.0, 1500.0, 500.0),
            30.0, 2, 1.0, 1e6,
        ),
        demo.orders["L1"],
    )  # fmt: skip
    t = {
        "command": f"{root}/fdc/FDC/command",
        "tracks_r1": f"{root}/radar/R1/tracks",
        "tracks_r9": f"{root}/radar/R9/tracks",
        "heartbeat": f"{root}/fdc/FDC/heartbeat",
        "l1_state": f"{root}/launcher/L1/state",
        "detonation": f"{root}/world/world/detonation",
        "engagement": f"{root}/launcher/L1/engagement",
        "order": f"{root}/launcher/L1/order",
    }
    future_hb = m.FdcHeartbeat("FDC", m.WeaponsControl.HOLD)
    death = m.NodeState("L1", "launcher", m.NodeStatus.DEATH, 1 << 60)
    kill = m.Detonation("L1-M001", "FDC-00001", "drone-1", "", m.DetonationOutcome.KILL, (0.0, 0.0, 0.0))
    reject = m.EngagementStatus("FDC-00001", "L1", m.EngagementState.REJECTED, "outsider")
    out = [
        (t["command"], codec.encode(m.Header(OPERATOR, 1, 1.0), hold), "unsealed"),
        (t["command"], sealed(t["command"], OPERATOR, hold), "bad_tag"),
        (t["tracks_r9"], sealed(t["tracks_r9"], "R9", ghost), "wrong_sender"),
        (t["tracks_r1"], sealed(t["tracks_r1"], "R1", ghost), "bad_tag"),
        # A heartbeat from the far future: it must not move anyone's clock either.
        (t["heartbeat"], sealed(t["heartbeat"], "FDC", future_hb, 1e6), "bad_tag"),
        (t["l1_state"], sealed(t["l1_state"], "L1", death), "bad_tag"),
        (t["detonation"], sealed(t["detonation"], "world", kill), "bad_tag"),
        (t["engagement"], sealed(t["engagement"], "L1", reject), "bad_tag"),
        (t["order"], sealed(t["order"], "FDC", order), "bad_tag"),
        # An order for L1 published by "L1" itself: only the FDC may send orders.
        (t["order"], sealed(t["order"], "L1", order), "wrong_sender"),
    ]
    out += [(topic, payload, "replay") for topic, payload in genuine]
    return out


def _spoof_during(
    broker: Broker, sub: Subscriber, cell: Any, data: dict[str, Any], spool: Path
) -> list[tuple[str, bytes, str]]:
    # Genuine traffic, captured to replay: a heartbeat and the launcher's first status.
    hb = sub.wait_for(lambda s: isinstance(s.body, m.FdcHeartbeat), 30, "a heartbeat", watch=[cell])
    st = sub.wait_for(lambda s: isinstance(s.body, m.LauncherStatus), 30, "a status", watch=[cell])
    spoofs = _spoofs(data, [(hb.topic, hb.payload), (st.topic, st.payload)])
    # Over the whole engagement (detection ~10 s, launch ~20 s, kill ~40 s simulated at x20).
    for _round in range(3):
        for topic, payload, _reason in spoofs:
            mosquitto_pub(broker.port, topic, payload, spool)
        time.sleep(0.4)
    return spoofs


def test_the_same_spoofs_move_a_cell_on_demo_keys(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, subscriber: Any
) -> None:
    """The control: the demo keys are public, so the same forgeries take the cell over. The
    test above is not vacuous, and --insecure-demo-keys says so at every start."""
    data = short_single_engagement()
    path = write_scenario(tmp_path, data, "spoof.yaml")
    sub: Subscriber = subscriber(f"bmc/v1/{data['name']}/#")
    out = tmp_path / "report.json"
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", SPEED, "--insecure-demo-keys",
        "--json", str(out), "--quiet", name="cell",
    )  # fmt: skip
    _spoof_during(broker, sub, cell, data, tmp_path / "spool")
    cell.wait(90)
    assert "WARNING: --insecure-demo-keys" in cell.stderr()
    report = read_report(out, cell)
    # The forged HOLD command was obeyed: nothing was fired at the real drone.
    assert report["threats"]["killed"] == 0, report["threats"]
    refused = report["realtime"]["rejected_by_topic"]
    assert not any(k.endswith("(bad_tag)") for k in refused), refused


def test_outsider_cannot_move_the_cell(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, subscriber: Any
) -> None:
    data = short_single_engagement()
    path = write_scenario(tmp_path, data, "spoof.yaml")
    clean = virtual_report(bmc, path, tmp_path / "virtual.json")
    assert clean["threats"]["killed"] == 1 and clean["missiles_fired"] >= 1
    keys = tmp_path / "keys"
    made = bmc.run("keys", "init", str(path), "--out", str(keys), timeout_s=60)
    assert made.proc.returncode == 0, made.describe()
    root = f"bmc/v1/{data['name']}"
    sub: Subscriber = subscriber(f"{root}/#")
    out, rec = tmp_path / "report.json", tmp_path / "run.mcap"
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", SPEED, "--keys", str(keys),
        "--json", str(out), "--record", str(rec), "--quiet", name="cell",
    )  # fmt: skip

    spoofs = _spoof_during(broker, sub, cell, data, tmp_path / "spool")

    assert cell.wait(90) == 0, cell.describe()
    no_traceback(cell)
    report = read_report(out, cell)
    # The outcome of the clean run, exactly.
    assert report["threats"] == clean["threats"], (report["threats"], clean["threats"])
    assert report["missiles_fired"] == clean["missiles_fired"]
    assert report["friendly_engaged"] == 0
    # Every forgery was refused, under its topic and reason.
    refused = report["realtime"]["rejected_by_topic"]
    missing = sorted({f"{topic} ({reason})" for topic, _p, reason in spoofs} - set(refused))
    assert not missing, f"not refused as expected: {missing}\nrefused: {refused}"
    assert set(k.rsplit(" ", 1)[1] for k in refused) <= {
        "(unsealed)",
        "(bad_tag)",
        "(wrong_sender)",
        "(replay)",
    }
    seen = sub.snapshot()
    launched = [s for s in seen if isinstance(s.body, m.EngagementStatus) and s.body.order_id == "FDC-99999"]
    assert not launched, "the forged order was answered"

    # No key material in anything the run wrote.
    secrets_hex: set[str] = set()
    for f in keys.iterdir():
        if f.name.endswith(".order.key"):
            secrets_hex.add(f.read_text(encoding="ascii").strip())
        elif f.name != "manifest.json":
            body = json.loads(f.read_text(encoding="utf-8"))
            secrets_hex |= set(body["links"].values()) | set((body.get("orders") or {}).values())
    assert len(secrets_hex) > 10
    outputs = [
        out,
        rec,
        cell.stdout_path,
        cell.stderr_path,
        made.stdout_path,
        made.stderr_path,
        keys / "manifest.json",
    ]
    for f in outputs:
        blob = f.read_bytes()
        for h in secrets_hex:
            assert h.encode() not in blob and bytes.fromhex(h) not in blob, f"a key appears in {f}"


def test_launchers_hold_when_the_fdc_stops_whatever_an_outsider_publishes(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, subscriber: Any
) -> None:
    """The FDC runs as its own process and is killed; an outsider keeps publishing FDC heartbeats
    (weapons FREE) sealed with every key it could know, and replays of the genuine ones. Both
    launchers must still go to HOLD within their heartbeat timeout."""
    data = short_single_engagement()
    data["duration_s"] = 120
    data["launchers"].append({**data["launchers"][0], "id": "L2", "position": {"east_m": -500, "north_m": 0}})
    split = external(data, "FDC")
    path = write_scenario(tmp_path, split, "fdc_loss.yaml")
    keys = tmp_path / "keys"
    assert bmc.run("keys", "init", str(path), "--out", str(keys), timeout_s=60).proc.returncode == 0
    s = parse_scenario(split)
    root = f"bmc/v1/{s.name}"
    hb_topic = f"{root}/fdc/FDC/heartbeat"
    sub: Subscriber = subscriber(f"{root}/#")
    common = ("--scenario", str(path), "--mqtt", broker.url, "--keys", str(keys))
    fdc = bmc("node", "FDC", *common, name="FDC")
    out = tmp_path / "report.json"
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", SPEED, "--keys", str(keys),
        "--json", str(out), "--quiet", name="cell",
    )  # fmt: skip
    genuine = [
        sub.wait_for(
            lambda x, k=k: (
                isinstance(x.body, m.FdcHeartbeat) and x.msg is not None and x.msg.header.sequence == k
            ),
            30,
            f"heartbeat {k}",
            watch=[cell, fdc],
        )
        for k in (3, 4)
    ]
    ready = {
        x.body.launcher_id
        for x in sub.snapshot()
        if isinstance(x.body, m.LauncherStatus) and x.body.state == m.LauncherState.READY
    }
    assert ready == {"L1", "L2"}, ready
    fdc.kill()
    stopped_at = time.monotonic()
    demo = derived(s).keyring(["FDC"], epoch=1 << 50)
    spool = tmp_path / "spool"
    n = 0
    # Heartbeat timeout 3 s simulated = 0.15 s wall at x20; forge for a whole second of wall time.
    while time.monotonic() - stopped_at < FORGE_S:
        n += 1
        body = m.FdcHeartbeat("FDC", m.WeaponsControl.FREE)
        content = codec.encode(m.Header("FDC", 1000 + n, 20.0 + n), body)
        mosquitto_pub(broker.port, hb_topic, demo.seal(root, hb_topic, "FDC", content), spool, qos=0)
        mosquitto_pub(broker.port, hb_topic, content, spool, qos=0)
        for g in genuine:
            mosquitto_pub(broker.port, hb_topic, g.payload, spool, qos=0)
    holds: dict[str, float] = {}
    for x in sub.snapshot():
        if (
            isinstance(x.body, m.LauncherStatus)
            and x.body.state == m.LauncherState.HOLD
            and x.wall_s > stopped_at
        ):
            holds.setdefault(x.body.launcher_id, x.wall_s - stopped_at)
    # And they stayed there: no READY after the HOLD, whatever the forged heartbeats said.
    first_hold = stopped_at + max(holds.values(), default=0.0)
    rearmed = [
        x.body.launcher_id
        for x in sub.snapshot()
        if isinstance(x.body, m.LauncherStatus)
        and x.body.state == m.LauncherState.READY
        and x.wall_s > first_hold
    ]
    assert not rearmed, rearmed
    assert set(holds) == {"L1", "L2"}, holds
    # 3 s simulated at x20 = 0.15 s, plus a heartbeat period's phase and the status round trip.
    assert max(holds.values()) < 0.6, holds
    cell.kill()


def test_the_genuine_operator_holds_the_cell(
    tmp_path: Path, broker: Broker, bmc: BmcRunner, subscriber: Any
) -> None:
    """`bmc command` signs as the operator with the operator's key: the FDC obeys it (where the
    same command from anyone else is refused, above)."""
    data = short_single_engagement()
    path = write_scenario(tmp_path, data, "operator.yaml")
    keys = tmp_path / "keys"
    assert bmc.run("keys", "init", str(path), "--out", str(keys), timeout_s=60).proc.returncode == 0
    sub: Subscriber = subscriber(f"bmc/v1/{data['name']}/#")
    out = tmp_path / "report.json"
    # At x5 the first launch (~20 s simulated) is 4 s of wall time away: time for the command.
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", "5", "--keys", str(keys),
        "--json", str(out), "--quiet", name="cell",
    )  # fmt: skip
    sub.wait_for(lambda s: isinstance(s.body, m.FdcHeartbeat), 30, "a heartbeat", watch=[cell])
    sent = bmc.run(
        "command", str(path), "hold", "--note", "range safety", "--mqtt", broker.url, "--keys", str(keys),
        timeout_s=30, name="operator",
    )  # fmt: skip
    assert sent.proc.returncode == 0, sent.describe()
    assert "sent weapons control HOLD" in sent.stdout()
    hold = sub.wait_for(
        lambda s: isinstance(s.body, m.FdcHeartbeat) and s.body.weapons_control == m.WeaponsControl.HOLD,
        10,
        "a heartbeat saying HOLD",
        watch=[cell],
    )
    assert hold.msg is not None and hold.msg.header.sender == "FDC"
    # Exit 1: the scenario's own check "killed == 1" fails, as it must when the cell holds fire.
    assert cell.wait(90) == 1, cell.describe()
    report = read_report(out, cell)
    assert [e["check"] for e in report["expect"] if not e["ok"]] == ["killed == 1"], report["expect"]
    assert report["missiles_fired"] == 0 and report["threats"]["killed"] == 0, report["threats"]
    assert not any("/command" in k for k in report["realtime"]["rejected_by_topic"]), report["realtime"]
