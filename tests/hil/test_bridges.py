"""The tutorial with L1 (then R1) played by a device program behind a pty and ``bmc hil`` in
between, on a real broker: the same engagement outcome as the all-simulated run. And the
bridge side of the cable unplugged mid-run: death declared, launcher in HOLD, reconnection."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bmc.replay import replay_into_fdc
from bmc.scenario import parse_scenario
from hil.cable import Cable
from protocols import messages as m
from tests.hil.conftest import DeviceProcess
from tests.transport.conftest import (
    BmcProcess,
    BmcRunner,
    Broker,
    Subscriber,
    external,
    no_traceback,
    read_report,
    short_single_engagement,
    virtual_report,
    write_scenario,
)

pytestmark = [pytest.mark.serial, pytest.mark.mqtt]

SPEED = "20"


def _pi_args(data: dict[str, Any], launcher_id: str, key_file: Path, port: Path) -> list[str]:
    """The Pi program's options for ``launcher_id``; ``key_file`` is written with the demo key
    unless it exists (made by `bmc keys init`)."""
    s = parse_scenario(data)
    x = next(x for x in s.launchers if x.id == launcher_id)
    if not key_file.exists():
        key_file.write_text(s.launcher_key(x).hex() + "\n", encoding="ascii")
    e, n, u = s.enu(x.position)
    return [
        "--port",
        str(port),
        "--key-file",
        str(key_file),
        "--id",
        x.id,
        "--fdc",
        s.fdc.id,
        "--position",
        f"{e},{n},{u}",
        "--missiles",
        str(x.missiles),
        "--reaction-time-s",
        str(x.reaction_time_s),
        "--salvo-interval-s",
        str(x.salvo_interval_s),
        "--reload-time-s",
        str(x.reload_time_s),
        "--heartbeat-timeout-s",
        str(x.heartbeat_timeout_s),
        "--status-period-s",
        str(x.status_period_s),
        "--speed",
        SPEED,
        "--gpio",
        "console",
    ]


def _bridge_summary(p: BmcProcess) -> dict[str, Any]:
    summary = json.loads(p.stdout())
    assert isinstance(summary, dict)
    return summary


def _same_outcome(report: dict[str, Any], virtual: dict[str, Any]) -> None:
    assert (report["threats"]["killed"], report["threats"]["leaked"]) == (
        virtual["threats"]["killed"],
        virtual["threats"]["leaked"],
    )
    assert report["friendly_engaged"] == 0
    assert report["messages"]["rejected"] == 0
    assert report["realtime"]["rejected_by_topic"] == {}


def test_launcher_played_by_the_pi_program_gives_the_virtual_outcome(
    tmp_path: Path,
    broker: Broker,
    bmc: BmcRunner,
    cable: Callable[..., Cable],
    device: Callable[..., DeviceProcess],
) -> None:
    data = short_single_engagement()
    virtual = virtual_report(bmc, write_scenario(tmp_path, data, "virtual.yaml"), tmp_path / "virtual.json")
    assert virtual["threats"]["killed"] == 1

    split_data = external(data, "L1")
    split = write_scenario(tmp_path, split_data, "split.yaml")
    # The hil README's way: fresh keys; the Pi takes the launcher's fire-order key file.
    keys = tmp_path / "keys"
    assert bmc.run("keys", "init", str(split), "--out", str(keys), timeout_s=60).proc.returncode == 0
    c = cable()
    pi = device("pi_launcher", *_pi_args(split_data, "L1", keys / "L1.order.key", c.ends["b"].link))
    bridge = bmc(
        "hil", "launcher", "L1", "--scenario", str(split), "--port", str(c.ends["a"].link),
        "--mqtt", broker.url, "--speed", SPEED, "--wait", "30", "--keys", str(keys), name="bridge",
    )  # fmt: skip
    out = tmp_path / "realtime.json"
    cell = bmc(
        "run", str(split), "--mqtt", broker.url, "--speed", SPEED, "--json", str(out), "--quiet",
        "--keys", str(keys), name="cell",
    )  # fmt: skip
    assert cell.wait(90) == 0, cell.describe()
    assert bridge.wait(30) == 0, bridge.describe()
    no_traceback(cell, bridge)
    report = read_report(out, cell)
    _same_outcome(report, virtual)
    assert report["launchers"]["L1"]["fired"] >= 1

    summary = _bridge_summary(bridge)
    dev = pi.stop()
    assert summary["device"]["deaths"] == 0 and summary["device"]["refused"] == 0
    assert summary["device"]["orders_forwarded"] >= 1
    assert dev["fired"] == report["launchers"]["L1"]["fired"]
    assert dev["rejections"] == {}
    for side in (summary["link"], dev["link"]):
        assert side["rx_crc_errors"] == side["rx_cobs_errors"] == side["rx_gaps"] == 0
    assert "GPIO L1: LAUNCH L1-M001" in pi.stderr()


def test_radar_played_by_the_sensor_board_gives_the_virtual_outcome(
    tmp_path: Path,
    broker: Broker,
    bmc: BmcRunner,
    cable: Callable[..., Cable],
    device: Callable[..., DeviceProcess],
) -> None:
    data = short_single_engagement()
    virtual = virtual_report(bmc, write_scenario(tmp_path, data, "virtual.yaml"), tmp_path / "virtual.json")
    split = write_scenario(tmp_path, external(data, "R1"), "split.yaml")
    c = cable()
    board = device("sensor_board", "--port", str(c.ends["b"].link), "--id", "R1", "--seed", "5")
    bridge = bmc(
        "hil", "sensor", "R1", "--scenario", str(split), "--port", str(c.ends["a"].link),
        "--mqtt", broker.url, "--speed", SPEED, "--wait", "30", name="bridge",
    )  # fmt: skip
    out, rec = tmp_path / "realtime.json", tmp_path / "realtime.mcap"
    cell = bmc(
        "run", str(split), "--mqtt", broker.url, "--speed", SPEED, "--json", str(out), "--quiet",
        "--record", str(rec), name="cell",
    )  # fmt: skip
    assert cell.wait(90) == 0, cell.describe()
    assert bridge.wait(30) == 0, bridge.describe()
    no_traceback(cell, bridge)
    report = read_report(out, cell)
    _same_outcome(report, virtual)
    assert report["reaction_time_s"]["p50"] is not None  # detections came from the board's plots
    # The board's tracks reached the FDC at wall-clock moments; the recording logged when, so a
    # fresh FDC fed the recording in virtual time issues the same orders, to 1e-6 relative.
    again = replay_into_fdc(rec)
    assert again.recorded and again.identical, again.differences

    summary = _bridge_summary(bridge)
    dev = board.stop()
    d = summary["device"]
    assert d["deaths"] == 0 and d["stimulations"] >= 20 and d["plots"] >= 10
    assert d["replies_missing"] <= 1  # the last scan may end with the run
    assert dev["stimulations"] >= d["stimulations"] - 1
    for side in (summary["link"], dev["link"]):
        assert side["rx_crc_errors"] == side["rx_cobs_errors"] == 0


def _unplug_scenario() -> dict[str, Any]:
    d = external(short_single_engagement(), "L1")
    d["name"] = "hil_unplug"
    d["duration_s"] = 200
    d["threats"][0]["start_s"] = 120  # nothing to shoot at while the cable is out
    return d


def test_unplugged_device_is_declared_dead_held_and_reconnected(
    tmp_path: Path,
    broker: Broker,
    bmc: BmcRunner,
    cable: Callable[..., Cable],
    device: Callable[..., DeviceProcess],
    subscriber: Callable[[str], Subscriber],
) -> None:
    data = _unplug_scenario()
    path = write_scenario(tmp_path, data, "unplug.yaml")
    root = f"bmc/v1/{data['name']}"
    sub = subscriber(f"{root}/#")
    c = cable()
    pi = device("pi_launcher", *_pi_args(data, "L1", tmp_path / "l1.key", c.ends["b"].link))
    bridge = bmc(
        "hil", "launcher", "L1", "--scenario", str(path), "--port", str(c.ends["a"].link),
        "--mqtt", broker.url, "--speed", SPEED, "--wait", "30", name="bridge",
    )  # fmt: skip
    out = tmp_path / "report.json"
    cell = bmc(
        "run", str(path), "--mqtt", broker.url, "--speed", SPEED, "--json", str(out), "--quiet", name="cell"
    )

    def l1_state(status: m.NodeStatus) -> Callable[[Any], bool]:
        return lambda s: (
            isinstance(s.body, m.NodeState) and s.body.node_id == "L1" and s.body.status == status
        )

    def l1_status(state: m.LauncherState) -> Callable[[Any], bool]:
        return lambda s: isinstance(s.body, m.LauncherStatus) and s.body.state == state

    sub.wait_for(l1_status(m.LauncherState.READY), 30, "L1 READY")
    birth = sub.wait_for(l1_state(m.NodeStatus.BIRTH), 1, "birth of L1")
    time.sleep(0.3)
    c.unplug("a")
    pulled = time.monotonic()
    death = sub.wait_for(l1_state(m.NodeStatus.DEATH), 5, "death of L1 published by the bridge")
    assert death.retain or death.body.birth_sequence == birth.body.birth_sequence
    assert death.body.birth_sequence == birth.body.birth_sequence  # this connection's life: not a late will
    sub.wait_for(
        lambda s: isinstance(s.body, m.FdcHeartbeat) and "L1" in s.body.launchers_lost,
        5,
        "FDC holding L1 lost",
    )
    pi.wait_stderr("GPIO L1: state HOLD", 5)  # the device holds by itself: no heartbeat reaches it
    assert death.wall_s - pulled < 1.0

    time.sleep(0.5)
    c.replug("a")
    back = sub.wait_for(
        lambda s: s.wall_s > death.wall_s and l1_state(m.NodeStatus.BIRTH)(s), 5, "re-birth of L1"
    )
    sub.wait_for(
        lambda s: s.wall_s > back.wall_s and l1_status(m.LauncherState.READY)(s), 5, "L1 READY again"
    )
    sub.wait_for(
        lambda s: s.wall_s > back.wall_s and isinstance(s.body, m.FdcHeartbeat) and not s.body.launchers_lost,
        5,
        "FDC counting L1 back",
    )

    assert cell.wait(60) in (0, 1), cell.describe()
    assert bridge.wait(30) == 0, bridge.describe()
    no_traceback(cell, bridge)
    summary = _bridge_summary(bridge)
    assert summary["device"]["deaths"] == 1 and summary["device"]["rebirths"] == 1
    assert summary["device"]["alive_at_end"] is True
    assert (summary["link"]["opens"], summary["link"]["losses"]) == (2, 1)
    dev = pi.stop()
    assert dev["link"]["losses"] == 0  # the device's own port never went away
    assert read_report(out, cell)["threats"]["leaked"] == 0


def test_bridge_errors_are_one_clear_line(tmp_path: Path, broker: Broker, bmc: BmcRunner) -> None:
    data = short_single_engagement()
    plain = write_scenario(tmp_path, data, "plain.yaml")
    p = bmc.run("hil", "launcher", "L1", "--scenario", str(plain), "--port", "/dev/null",
                "--mqtt", broker.url, timeout_s=20, name="not-external")  # fmt: skip
    assert p.proc.returncode == 2
    assert "not marked 'external: true'" in p.stderr()
    split = write_scenario(tmp_path, external(data, "L1", "R1"), "split.yaml")
    missing = str(tmp_path / "no-such-port")
    p = bmc.run("hil", "launcher", "L1", "--scenario", str(split), "--port", missing, "--mqtt", broker.url,
                "--wait", "1", timeout_s=20, name="no-port")  # fmt: skip
    assert p.proc.returncode == 2
    assert missing in p.stderr() and "Traceback" not in p.stderr()
    p = bmc.run("hil", "sensor", "L1", "--scenario", str(split), "--port", missing, "--mqtt", broker.url,
                timeout_s=20, name="wrong-kind")  # fmt: skip
    assert p.proc.returncode == 2 and "is a launcher, not a radar" in p.stderr()
    p = bmc.run("hil", "launcher", "L1", "--scenario", str(split), "--port", missing, "--baud", "12345",
                "--mqtt", broker.url, timeout_s=20, name="bad-baud")  # fmt: skip
    assert p.proc.returncode == 2 and "--baud" in p.stderr()
