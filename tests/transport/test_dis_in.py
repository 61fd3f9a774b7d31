"""``bmc run --dis-in``: another simulator's entities, sent with opendis over loopback UDP,
fly in our world: a hostile is detected and engaged, a friendly never is, one whose PDUs
stop is removed after its timeout, and junk on the socket is counted and goes nowhere."""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pymap3d
import pytest

from bmc.testing import free_port
from protocols import codec
from protocols import messages as m
from protocols.recording import read_recording
from tests.interop.federate import entity_state
from tests.transport.conftest import (
    BmcRunner,
    Broker,
    no_traceback,
    read_report,
    short_single_engagement,
    write_scenario,
)

pytestmark = pytest.mark.mqtt

SPEED = 4.0
EXERCISE = 3
ORIGIN = (50.8466, 4.3528, 0.0)  # single_engagement.yaml
FIGHTER, DRONE, TANK = (1, 2, 0, 1), (1, 2, 0, 50), (1, 1, 0, 1)


def _ecef(e: float, n: float, u: float) -> tuple[float, float, float]:
    x, y, z = pymap3d.enu2ecef(e, n, u, *ORIGIN)
    return float(x), float(y), float(z)


def _ecef_velocity(ve: float, vn: float, vu: float) -> tuple[float, float, float]:
    x, y, z = pymap3d.enu2uvw(ve, vn, vu, ORIGIN[0], ORIGIN[1])
    return float(x), float(y), float(z)


class Federate:
    """Flies entities in straight lines in simulated time (``SPEED`` x the wall clock) and
    sends each one's Entity State PDU five times a wall second, until told to stop."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.flights: list[
            tuple[tuple[int, int, int], int, tuple[int, int, int, int], str, np.ndarray, np.ndarray, float]
        ] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def fly(self, entity: tuple[int, int, int], force: int, kind: tuple[int, int, int, int], marking: str,
            start_enu: tuple[float, float, float], velocity_enu: tuple[float, float, float],
            for_wall_s: float = math.inf) -> None:  # fmt: skip
        self.flights.append(
            (entity, force, kind, marking, np.array(start_enu), np.array(velocity_enu), for_wall_s)
        )

    def send(self, payload: bytes) -> None:
        self.sock.sendto(payload, ("127.0.0.1", self.port))

    def start(self) -> Federate:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            wall = time.monotonic() - self.t0
            for entity, force, kind, marking, p0, v, for_wall_s in self.flights:
                if wall > for_wall_s:
                    continue
                p = p0 + v * wall * SPEED
                self.send(
                    entity_state(
                        entity, force, kind, _ecef(*p), _ecef_velocity(*v), marking, exercise=EXERCISE
                    )
                )
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _wait(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_dis_entities_fly_in_our_world(tmp_path: Path, broker: Broker, bmc: BmcRunner) -> None:
    data = short_single_engagement()
    data["threats"] = []  # only what the federate flies
    data["expect"] = []
    data["dis_in"] = {
        "exercise_id": EXERCISE,
        "timeout_s": 3,
        "entities": [
            {"id": "bandit", "marking": "BANDIT1"},
            {"id": "blue", "marking": "BLUE1", "kind": "fighter"},
        ],
    }
    scenario = write_scenario(tmp_path, data, "s.yaml")
    port = free_port()
    out, rec = tmp_path / "report.json", tmp_path / "run.mcap"
    cell = bmc(
        "run", str(scenario), "--mqtt", broker.url, "--speed", str(SPEED), "--dis-in", f"udp://127.0.0.1:{port}",
        "--json", str(out), "--record", str(rec), name="cell",
    )  # fmt: skip
    _wait(lambda: "real time over the broker" in cell.stderr(), 30, cell.describe())
    time.sleep(1.0)
    federate = Federate(port)
    # A hostile fighter 12 km out at 200 m/s towards the site; a friendly one on a parallel
    # course; a drone whose simulator stops after 2 s (wall); a tank (not an air object).
    federate.fly((9, 1, 1), 2, FIGHTER, "BANDIT1", (8_500.0, 8_500.0, 800.0), (-141.0, -141.0, 0.0))
    federate.fly((9, 1, 2), 1, FIGHTER, "BLUE1", (9_000.0, 8_000.0, 900.0), (-141.0, -141.0, 0.0))
    federate.fly((9, 1, 3), 2, DRONE, "GONE1", (20_000.0, -5_000.0, 300.0), (0.0, 30.0, 0.0), for_wall_s=2.0)
    federate.fly((9, 1, 4), 2, TANK, "TANK1", (3_000.0, 0.0, 0.0), (0.0, 5.0, 0.0))
    federate.start()
    try:
        time.sleep(0.5)
        good = entity_state(
            (9, 1, 5), 2, FIGHTER, _ecef(1.0, 2.0, 3.0), (0.0, 0.0, 0.0), "JUNK", exercise=EXERCISE
        )
        junk = [
            good[:50],  # truncated
            bytes([3]) + good[1:],  # DIS version 3
            good[:2] + bytes([99]) + good[3:],  # unknown PDU type
            entity_state((9, 1, 6), 2, FIGHTER, _ecef(1.0, 2.0, 3.0), (0.0, 0.0, 0.0), "OTHEREX", exercise=4),
            good[:48] + struct.pack(">d", math.nan) + good[56:],  # NaN location
            b"",
        ]
        for payload in junk:
            federate.send(payload)
        rng = np.random.default_rng(5)
        for _ in range(3000):  # a flood of noise
            federate.send(rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes())
        assert cell.wait(60) == 0, cell.describe()
    finally:
        federate.stop()
    no_traceback(cell)
    report = read_report(out, cell)

    msgs = [codec.decode(rm.payload) for rm in read_recording(rec).messages()]
    truth = [x.body for x in msgs if isinstance(x.body, m.TruthReport)]
    flown = {oid for r in truth for oid in r.object_id}
    assert flown == {"bandit", "blue", "GONE1"}  # nothing else entered the world
    targets = {x.body.target_object_id for x in msgs if isinstance(x.body, m.Flyout)}
    assert "bandit" in targets and "blue" not in targets
    killed = {
        x.body.object_id
        for x in msgs
        if isinstance(x.body, m.Detonation) and x.body.outcome == m.DetonationOutcome.KILL
    }
    assert killed == {"bandit"}
    assert report["threats"]["killed"] == 1 and report["friendly_engaged"] == 0
    last = truth[-1]
    status = dict(zip(last.object_id, last.status.tolist(), strict=True))
    assert status["bandit"] == m.ObjectStatus.KILLED  # its simulator went on sending: ignored
    assert status["GONE1"] == m.ObjectStatus.LANDED  # timed out
    assert status["blue"] == m.ObjectStatus.ACTIVE
    # GONE1 stopped 2 wall s (8 simulated) after the federate started: gone within its 3 s timeout.
    gone_at = next(
        x.header.sim_time_s
        for x in msgs
        if isinstance(x.body, m.TruthReport)
        and "GONE1" in x.body.object_id
        and x.body.status[x.body.object_id.index("GONE1")] == m.ObjectStatus.LANDED
    )
    seen = [
        x.header.sim_time_s for x in msgs if isinstance(x.body, m.TruthReport) and "GONE1" in x.body.object_id
    ]
    assert gone_at - seen[0] < 8 + 3 + 2, (seen[0], gone_at)
    said = cell.stderr()
    assert "dis-in: received" in said and "3 entities flew" in said, said
    for reason in ("truncated", "version", "unknown-type", "exercise", "bad-value", "not-air 1"):
        assert reason in said, (reason, said)
