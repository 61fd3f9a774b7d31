"""The Pi launcher mock: a replayed, tampered or expired fire order is never executed.

First the launcher logic with wall time passed in (whole event logs), then the real program
in a subprocess behind a pty, driven frame by frame with real pyserial."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bmc.testing import fdc_heartbeat, fire_order
from hil.cable import Cable
from hil.devices.pi_launcher import PiConfig, PiLauncher, read_key
from hil.framing import frame_message, message_frame
from hil.serial_link import BlockingLink, SerialConfig
from protocols import messages as m
from tests.hil.conftest import DeviceProcess

pytestmark = pytest.mark.serial

KEY = bytes(range(100, 132))
E = m.EngagementState
CONFIG = PiConfig(position_m=(500.0, 0.0, 0.0), reaction_time_s=2.0, heartbeat_timeout_s=3.0, speed=10.0)


def order(n: int, issued_s: float, key: bytes = KEY, **changes: object) -> m.FireOrder:
    return fire_order(n, issued_s, key, **changes)


NONCE = 0x5EED


def signed_heartbeat(sim_s: float, key: bytes = KEY, nonce: int = NONCE) -> m.FdcHeartbeat:
    return fdc_heartbeat(sim_s, key, nonce)


def heartbeat(sim_s: float, seq: int = 1) -> m.Message:
    return m.Message(m.Header("FDC", seq, sim_s), signed_heartbeat(sim_s))


def msg(body: m.Body, sim_s: float = 0.0) -> m.Message:
    return m.Message(m.Header("FDC", 1, sim_s), body)


class Rig:
    """A PiLauncher with a log of what it sent: (wall, kind, detail)."""

    def __init__(self, config: PiConfig = CONFIG) -> None:
        self.log: list[tuple[float, str, str]] = []
        self.wall = 0.0
        self.launcher = PiLauncher(config, KEY, self._send, boot_nonce=NONCE)
        self.launcher.start(self.wall)
        self.log.clear()

    def _send(self, body: m.Body, _sim: float) -> None:
        if isinstance(body, m.EngagementStatus):
            self.log.append((round(self.wall, 3), body.state.name, f"{body.order_id} {body.reason}".strip()))
        elif isinstance(body, m.LauncherStatus):
            self.log.append((round(self.wall, 3), "status", body.state.name))

    def at(self, wall: float, *messages: m.Message) -> None:
        """Advance to ``wall`` (running timers on the way) and hand in ``messages``."""
        while True:
            due = self.launcher.poll(self.wall)
            if due > wall:
                break
            self.wall = due
        self.wall = wall
        self.launcher.poll(wall)
        for x in messages:
            self.launcher.handle(x, wall)

    def events(
        self, kinds: tuple[str, ...] = ("ACCEPTED", "REJECTED", "LAUNCHED", "ABORTED")
    ) -> list[tuple[str, str]]:
        return [(k, d) for _w, k, d in self.log if k in kinds]


def test_a_good_order_is_executed_once_and_a_duplicate_gets_the_same_answer() -> None:
    rig = Rig()
    rig.at(0.0, heartbeat(50.0))
    rig.at(0.05, msg(order(1, 50.0)))
    rig.at(0.10, heartbeat(51.0), msg(order(1, 50.0)))  # the FDC resends: same answer, no second launch
    rig.at(0.3, heartbeat(53.0))
    assert rig.log == [
        (0.0, "status", "READY"),
        (0.05, "ACCEPTED", "FDC-00001"),
        (0.05, "status", "ENGAGING"),
        (0.1, "ACCEPTED", "FDC-00001"),
        (0.25, "LAUNCHED", "FDC-00001"),  # reaction 2 s simulated at speed 10
        (0.25, "status", "READY"),
    ]
    assert rig.launcher.launched == ["FDC-00001"]


def test_tampered_wrong_key_and_unsigned_orders_are_refused() -> None:
    rig = Rig()
    rig.at(0.0, heartbeat(50.0))
    tampered = replace(order(1, 50.0), intercept_point_m=(100.0, 100.0, 300.0))
    rig.at(0.01, msg(tampered))
    rig.at(0.02, msg(order(2, 50.0, key=b"\x00" * 32)))
    rig.at(0.03, msg(replace(order(3, 50.0), auth_tag=b"")))
    rig.at(0.5)
    assert rig.events() == [
        ("REJECTED", "FDC-00001 authentication failed"),
        ("REJECTED", "FDC-00002 authentication failed"),
        ("REJECTED", "FDC-00003 authentication failed"),
    ]
    assert rig.launcher.fired == 0
    # A forgery does not decide the genuine order's answer.
    rig.at(0.6, heartbeat(56.0), msg(order(1, 55.5)))
    assert rig.events()[-1] == ("ACCEPTED", "FDC-00001")


def test_replayed_orders_are_refused_even_once_forgotten() -> None:
    rig = Rig(replace(CONFIG, answers_kept=1))
    rig.at(0.0, heartbeat(50.0))
    recorded = order(1, 50.0)
    rig.at(0.01, msg(recorded))
    rig.at(0.3, heartbeat(53.0))  # launched at 0.21
    rig.at(0.31, msg(order(2, 53.0)))  # evicts order 1's answer from the cache
    rig.at(0.6, heartbeat(56.0))
    rig.at(0.61, msg(recorded))  # a recorded order replayed: still in date, authentic, forgotten
    rig.at(0.62, msg(order(3, 52.0)))  # authentic but older than the last one answered
    rig.at(1.0, heartbeat(60.0))
    assert rig.events() == [
        ("ACCEPTED", "FDC-00001"),
        ("LAUNCHED", "FDC-00001"),
        ("ACCEPTED", "FDC-00002"),
        ("LAUNCHED", "FDC-00002"),
        ("REJECTED", "FDC-00001 replayed: issued 50.000 s, not newer than order FDC-00002 issued 53.000 s"),
        ("REJECTED", "FDC-00003 replayed: issued 52.000 s, not newer than order FDC-00002 issued 53.000 s"),
    ]
    assert rig.launcher.launched == ["FDC-00001", "FDC-00002"]


def test_expired_and_premature_orders_are_refused() -> None:
    rig = Rig()
    rig.at(0.0, msg(order(1, 0.0)))  # no heartbeat yet: no time reference
    rig.at(0.1, heartbeat(100.0))
    rig.at(0.2, msg(order(2, 80.0)))  # expired at 90 s; now 101 s
    rig.at(0.3, heartbeat(103.0), msg(order(3, 200.0)))  # issued in the future
    assert [k for k, _ in rig.events()] == ["REJECTED"] * 3
    reasons = [d for _, d in rig.events()]
    assert reasons[0] == "FDC-00001 no FDC heartbeat yet (no time reference)"
    assert reasons[1].startswith("FDC-00002 expired at 90.000 s")
    assert reasons[2].startswith("FDC-00003 issued in the future")
    assert rig.launcher.fired == 0


def test_an_order_that_expires_before_launch_is_aborted() -> None:
    rig = Rig(replace(CONFIG, reaction_time_s=15.0))
    rig.at(0.0, heartbeat(50.0))
    rig.at(0.01, msg(order(1, 50.0)))  # expires at 60 s; launch would be at 65 s
    for k in range(1, 20):
        rig.at(0.1 * k, heartbeat(50.0 + k))
    assert rig.events() == [("ACCEPTED", "FDC-00001"), ("ABORTED", "FDC-00001 order expired before launch")]
    assert rig.launcher.fired == 0


def test_heartbeat_loss_holds_and_aborts_and_a_heartbeat_rearms() -> None:
    rig = Rig(replace(CONFIG, reaction_time_s=5.0))
    rig.at(0.0, heartbeat(50.0))
    rig.at(0.05, msg(order(1, 50.0)))
    rig.at(0.2)  # no heartbeat for 0.2 s wall = 2 s simulated: still fine
    rig.at(0.5)  # 3 s simulated passed at 0.3: HOLD, engagement aborted before launch
    rig.at(0.6, msg(order(2, 55.5)))
    rig.at(0.7, heartbeat(57.0))
    assert rig.log == [
        (0.0, "status", "READY"),
        (0.05, "ACCEPTED", "FDC-00001"),
        (0.05, "status", "ENGAGING"),
        (0.3, "status", "HOLD"),
        (0.3, "ABORTED", "FDC-00001 heartbeat lost"),
        (0.6, "REJECTED", "FDC-00002 not ready (HOLD)"),
        (0.7, "status", "READY"),
    ]
    assert rig.launcher.fired == 0


def test_a_heartbeat_from_far_ahead_moves_no_clock_and_keeps_nothing_armed() -> None:
    rig = Rig()
    rig.at(0.0, heartbeat(50.0))
    # A heartbeat stamped an hour ahead: were it believed, every genuine order would be expired.
    rig.at(0.05, heartbeat(3650.0, 2))
    assert rig.launcher.clock_refused == 1
    rig.at(0.1, msg(order(1, 51.0)))
    assert rig.log[-2:] == [(0.1, "ACCEPTED", "FDC-00001"), (0.1, "status", "ENGAGING")], rig.log
    # Nor is it a sign of life: forged far-off heartbeats alone do not keep the launcher out of HOLD.
    rig.at(0.2, heartbeat(9000.0, 3))
    rig.at(0.6)
    assert ("status", "HOLD") in [(k, d) for _w, k, d in rig.log], rig.log
    assert rig.launcher.clock_refused == 2


def test_key_file_errors_name_the_problem(tmp_path: Path) -> None:
    f = tmp_path / "k"
    f.write_text("zz\n")
    with pytest.raises(ValueError, match="hex digits"):
        read_key(f)
    f.write_text("00" * 8)
    with pytest.raises(ValueError, match="16-64 bytes"):
        read_key(f)
    f.write_text(KEY.hex() + "\n")
    assert read_key(f) == KEY


def test_the_program_imports_nothing_beyond_pyserial_protobuf_and_numpy() -> None:
    code = (
        "import sys, hil.devices.pi_launcher; print(' '.join(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    top = set(out.split())
    for banned in ("simpy", "aiomqtt", "paho", "pydantic", "yaml", "scipy", "bmc", "sensors"):
        assert banned not in top, f"the Pi program pulls in {banned}"
    assert {"serial", "google", "numpy"} <= top


# ---------------------------------------------------------------- the real program behind a pty


def _answers(
    link: BlockingLink, until: Callable[[list[m.Message]], bool], timeout_s: float
) -> list[m.Message]:
    got: list[m.Message] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not until(got):
        got += [frame_message(f) for f in link.read_frames(0.02)]
    return got


def _program_on_a_pty(
    tmp_path: Path, cable: Callable[..., Cable], device: Callable[..., DeviceProcess], *options: str
) -> tuple[BlockingLink, DeviceProcess]:
    """The Pi program (L1 at 500,0,0, speed 10, key KEY) on one end of a virtual cable, our link
    on the other."""
    c = cable()
    key_file = tmp_path / "l1.key"
    key_file.write_text(KEY.hex() + "\n")
    bridge = BlockingLink(SerialConfig(str(c.ends["a"].link)))
    assert bridge.try_open()
    port = str(c.ends["b"].link)
    pi = device(
        "pi_launcher", "--port", port, "--key-file", str(key_file), "--position", "500,0,0", "--speed", "10",
        *options,
    )  # fmt: skip
    return bridge, pi


def _has_status_and_beacon(got: list[m.Message]) -> bool:
    kinds = {type(x.body) for x in got}
    return m.NodeState in kinds and m.LauncherStatus in kinds


def _boot_nonce(got: list[m.Message]) -> int:
    nonces = {x.body.boot_nonce for x in got if isinstance(x.body, m.LauncherStatus)}
    assert len(nonces) == 1 and 0 not in nonces, nonces
    return nonces.pop()


def _engagements(got: list[m.Message]) -> list[tuple[str, str, str]]:
    return [
        (b.order_id, b.state.name, b.reason.split(":")[0].split(" (")[0])
        for b in (x.body for x in got)
        if isinstance(b, m.EngagementStatus)
    ]


def test_the_program_never_executes_a_replayed_tampered_or_expired_order(
    tmp_path: Path, cable: Callable[..., Cable], device: Callable[..., DeviceProcess]
) -> None:
    bridge, pi = _program_on_a_pty(
        tmp_path, cable, device, "--gpio", "console", "--timing-log", str(tmp_path / "timing.jsonl")
    )
    seq = iter(range(1, 10_000))

    def send(body: m.Body, sim_s: float) -> bytes:
        wire = message_frame(bridge.next_seq(), m.Header("FDC", next(seq), sim_s), body)
        assert bridge.send(wire)
        return wire

    # Wait for the device; learn its boot nonce from its status (as the FDC does), arm it.
    nonce = _boot_nonce(_answers(bridge, _has_status_and_beacon, 10))

    def beat(sim_s: float) -> None:
        send(signed_heartbeat(sim_s, nonce=nonce), sim_s)

    beat(100.0)
    good = order(1, 100.0)
    sent_at = time.perf_counter()
    recorded = send(good, 100.0)
    got = _answers(bridge, lambda g: ("FDC-00001", "LAUNCHED", "") in _engagements(g), 5)
    beat(101.0)
    # The recorded frame, byte for byte, again (same id: the same answer, no second launch).
    bridge.send(recorded)
    send(replace(good, order_id="FDC-00002", target_track_id=9), 101.0)  # tag no longer matches
    send(order(3, 100.5, expiry_time_s=100.9), 101.0)  # authentic, newer, expired
    send(order(4, 99.0), 101.0)  # authentic, in date, older than the newest answered
    got += _answers(bridge, lambda g: len(_engagements(g)) >= 4, 5)
    beat(102.0)
    time.sleep(0.3)
    summary = pi.stop()

    assert _engagements(got) == [
        ("FDC-00001", "ACCEPTED", ""),
        ("FDC-00001", "LAUNCHED", ""),
        ("FDC-00001", "ACCEPTED", ""),
        ("FDC-00002", "REJECTED", "authentication failed"),
        ("FDC-00003", "REJECTED", "expired at 100.900 s"),
        ("FDC-00004", "REJECTED", "replayed"),
    ]
    assert summary["fired"] == 1
    assert summary["launched_orders"] == ["FDC-00001"]
    assert summary["link"]["rx_crc_errors"] == 0
    assert "GPIO L1: LAUNCH L1-M001" in pi.stderr()
    assert pi.stderr().count("LAUNCH") == 1
    # --timing-log: a line per answered order, on the machine's monotonic clock (as ours).
    timing = [json.loads(line) for line in (tmp_path / "timing.jsonl").read_text().splitlines()]
    assert [(t["order_id"], t["answer"]) for t in timing] == [
        (order_id, state) for order_id, state, _ in _engagements(got) if state != "LAUNCHED"
    ]
    assert sent_at < timing[0]["read_at_s"]
    for t in timing:
        assert 0 < t["wall_s"] == pytest.approx(t["answered_at_s"] - t["read_at_s"], abs=1e-9)
        assert 0 < t["cpu_s"] < 0.5
        assert t["answered_at_s"] < time.perf_counter()


def test_the_program_is_armed_only_by_heartbeats_tagged_for_it(
    tmp_path: Path, cable: Callable[..., Cable], device: Callable[..., DeviceProcess]
) -> None:
    """Whoever writes on the serial line (a bridge, a stale process) may claim sender FDC: a
    heartbeat without L1's tag, with another key's tag, recorded before this boot, or recorded
    in this boot and replayed neither arms the device nor keeps it armed."""
    bridge, pi = _program_on_a_pty(tmp_path, cable, device, "--heartbeat-timeout-s", "3", "--gpio", "off")
    seq = iter(range(1, 10_000))

    def send(body: m.Body, sim_s: float) -> None:
        assert bridge.send(message_frame(bridge.next_seq(), m.Header("FDC", next(seq), sim_s), body))

    def states(got: list[m.Message]) -> list[str]:
        return [x.body.state.name for x in got if isinstance(x.body, m.LauncherStatus)]

    nonce = _boot_nonce(_answers(bridge, _has_status_and_beacon, 10))
    # Forgeries only, for 1 s wall (10 s simulated: three heartbeat timeouts): untagged, tagged
    # with another key, and genuine ones recorded before this boot (tagged for another nonce).
    for k in range(10):
        send(m.FdcHeartbeat("FDC", m.WeaponsControl.FREE, time_s=100.0 + k), 100.0 + k)
        send(signed_heartbeat(100.0 + k, key=b"\x03" * 32, nonce=nonce), 100.0 + k)
        send(signed_heartbeat(100.0 + k, nonce=nonce ^ 1), 100.0 + k)
        time.sleep(0.1)
    send(order(1, 109.0), 109.0)
    got = _answers(bridge, lambda g: len(_engagements(g)) >= 1, 5)
    assert _engagements(got) == [("FDC-00001", "REJECTED", "no FDC heartbeat yet")]
    assert "READY" not in states(got)
    # One genuine heartbeat arms it; the same heartbeat replayed does not keep it armed.
    recorded = signed_heartbeat(110.0, nonce=nonce)
    send(recorded, 110.0)
    got = _answers(bridge, lambda g: "READY" in states(g), 5)
    for _ in range(8):
        time.sleep(0.1)
        send(recorded, 110.0)
    got += _answers(bridge, lambda g: "HOLD" in states(g), 5)
    summary = pi.stop()
    assert states(got)[-2:] == ["READY", "HOLD"], states(got)
    assert summary["state"] == "HOLD"
    assert summary["fired"] == 0
    assert summary["heartbeats_refused"]["authentication failed"] == 30
    assert summary["heartbeats_refused"]["replayed"] >= 7


def test_each_boot_has_its_own_nonce_and_heartbeats_for_another_boot_are_refused() -> None:
    nonces = {PiLauncher(CONFIG, KEY, lambda _b, _t: None).core.boot_nonce for _ in range(8)}
    assert len(nonces) == 8 and 0 not in nonces  # random per boot, never the simulated launcher's 0
    rig = Rig()
    rig.at(0.0, msg(signed_heartbeat(50.0, nonce=NONCE + 1), 50.0))  # recorded in another boot
    rig.at(0.1, msg(order(1, 50.0)))
    assert rig.events() == [("REJECTED", "FDC-00001 no FDC heartbeat yet (no time reference)")]
    rig.at(0.2, heartbeat(52.0))
    assert rig.log[-1] == (0.2, "status", "READY")
    assert rig.launcher.core.heartbeats_refused == {"authentication failed": 1}
