"""The bridge nodes: a serial device's face on the bus, in simulated time.

A bridge node holds a launcher's or a radar's id and topics, so the rest of the
cell cannot tell it from the simulated node; what the simulated node would
compute, the device on the serial link does. Only this module of ``hil`` touches
SimPy (through :class:`~bmc.engine.node.Node`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import simpy

from bmc.engine.node import Node
from bmc.scenario import Launcher
from protocols import messages as m
from protocols.bus import Bus
from protocols.topics import Topics
from sensors.detection import RadarModel, enu_to_polar, horizon_range_m
from sensors.radar import RadarNode, track_report
from sensors.tracker import TrackerParams

log = logging.getLogger(__name__)

STIMULUS_MAX_OBJECTS = 16
"""Objects per stimulation frame: a board's answer to one frame (plots of these
objects plus false alarms) then stays well inside one frame's payload limit."""


def environment(start_s: float = 0.0) -> simpy.Environment:
    """A SimPy environment starting at simulated ``start_s``."""
    return simpy.Environment(initial_time=start_s)


class DeviceSide(Protocol):
    """What a bridge node needs of the serial side."""

    @property
    def connected(self) -> bool:
        """True while the port is open."""

    def send_message(self, header: m.Header, body: m.Body) -> bool:
        """Frame and send one message; False when it could not be sent."""


@dataclass(slots=True)
class DeviceHealth:
    """Liveness of the device as the bridge saw it."""

    alive: bool = True
    last_heard_s: float = 0.0
    deaths: int = 0
    """Times the bridge declared the device dead (silence or a lost port)."""
    rebirths: int = 0
    messages_in: int = 0
    foreign: int = 0
    """Messages refused: another node's id, or a type this node does not publish."""
    dead_life: int | None = None
    boot_ids: list[int] = field(default_factory=list)
    """Boot ids the device announced in its beacons (a new one: the device restarted)."""


class _BridgeNode(Node):
    """Liveness handling shared by both bridge nodes: death on silence, re-birth on return."""

    device: DeviceSide
    health: DeviceHealth
    device_timeout_s: float
    life: Callable[[], int]

    def _hello(self) -> None:
        # Any NodeState from the bridge asks the device for its status.
        self.device.send_message(
            m.Header(self.id, self.health.rebirths + 1, self.now),
            m.NodeState(self.id, "bridge", m.NodeStatus.BIRTH, self.life()),
        )

    def _declare_dead(self, why: str) -> None:
        h = self.health
        if h.alive:
            h.alive = False
            h.deaths += 1
            log.warning("%s: device declared dead at %.3f s: %s", self.id, self.now, why)
        h.dead_life = self.life()
        # Same birth sequence as this connection's will: a later will is still the current death.
        self.publish("state", m.NodeState(self.id, self.kind, m.NodeStatus.DEATH, h.dead_life))

    def _heard(self) -> None:
        h = self.health
        h.last_heard_s = self.now
        h.messages_in += 1
        if not h.alive:
            h.alive = True
            h.rebirths += 1
            h.dead_life = None
            log.warning("%s: device back at %.3f s", self.id, self.now)
            self.publish("state", m.NodeState(self.id, self.kind, m.NodeStatus.BIRTH, self.life()))
            self._hello()

    def _watchdog(self) -> None:
        h = self.health
        if h.alive and self.now - h.last_heard_s > self.device_timeout_s:
            self._declare_dead(f"silent for {self.now - h.last_heard_s:.2f} s")
        elif not h.alive and h.dead_life != self.life():
            # The broker connection was re-established (and re-born us) while the device is away.
            self._declare_dead("still silent after a broker reconnect")

    def link_state(self, up: bool) -> None:
        """The serial port opened (True) or was lost (False)."""
        if up:
            self._hello()
        else:
            self._declare_dead("serial port lost")

    def _beacon(self, body: m.NodeState) -> None:
        if body.birth_sequence not in self.health.boot_ids:
            if self.health.boot_ids:
                log.warning("%s: device restarted (boot %d)", self.id, body.birth_sequence)
            self.health.boot_ids.append(body.birth_sequence)


class LauncherBridgeNode(_BridgeNode):
    """Launcher ``config.id`` played by a device: orders and FDC heartbeats go to it,
    its acknowledgements, engagement reports and status come back on the launcher's topics."""

    kind = "launcher"

    def __init__(
        self,
        env: simpy.Environment,
        bus: Bus,
        topics: Topics,
        rng: np.random.Generator,
        config: Launcher,
        position_m: tuple[float, float, float],
        fdc_id: str,
        device: DeviceSide,
        life: Callable[[], int],
        device_timeout_s: float,
    ) -> None:
        super().__init__(config.id, env, bus, topics, rng)
        self.config = config
        self.position_m = position_m
        self.fdc_id = fdc_id
        self.device = device
        self.life = life
        self.device_timeout_s = device_timeout_s
        self.health = DeviceHealth(last_heard_s=float(env.now))
        self.orders_forwarded = 0
        self.heartbeats_forwarded = 0
        self._position_warned = False

    def _forward(self, msg: m.Message) -> None:
        # The FDC's own header goes to the device: its time is the device's clock reference.
        if self.device.send_message(msg.header, msg.body):
            if isinstance(msg.body, m.FireOrder):
                self.orders_forwarded += 1
            else:
                self.heartbeats_forwarded += 1

    def from_device(self, msg: m.Message) -> None:
        """One message from the device, at the current simulated time."""
        self._heard()
        body = msg.body
        if isinstance(body, m.NodeState):
            self._beacon(body)
        elif isinstance(body, m.LauncherStatus) and body.launcher_id == self.id:
            self._check_position(body.position_m)
            self.publish("status", body)
        elif isinstance(body, m.EngagementStatus) and body.launcher_id == self.id:
            self.publish("engagement", body)
        else:
            self.health.foreign += 1
            log.warning("%s: refused a %s from the device", self.id, type(body).__name__)

    def _check_position(self, reported: m.Vec3) -> None:
        if self._position_warned or math.dist(reported, self.position_m) <= 1.0:
            return
        self._position_warned = True
        log.warning(
            "%s: the device says it stands at %s, the scenario at %s: interceptors fly from the device's",
            self.id,
            reported,
            self.position_m,
        )

    def setup(self) -> None:
        self.on(self.topics.topic("launcher", self.id, "order"), self._forward)
        self.on(self.topics.topic("fdc", self.fdc_id, "heartbeat"), self._forward)
        self.every(self.device_timeout_s / 4, self._watchdog, first_s=self.device_timeout_s / 4)
        self._hello()


@dataclass(slots=True)
class _Scan:
    time_s: float
    expected: int
    replies: list[m.TrackReport] = field(default_factory=list)


class SensorBridgeNode(_BridgeNode, RadarNode):
    """Radar ``radar_id`` played by a sensor board: truth in the radar's own frame goes to
    the board at every scan; its plots go through the radar's tracker (or its tracks go
    straight out) on the radar's track topic.

    Stimulation: a ``TruthReport`` of the objects inside the radar's coverage (range,
    4/3-earth horizon, elevation), positions as offsets from the antenna (east, north,
    up, metres), velocities unchanged, header time = scan time; split into frames of at
    most :data:`STIMULUS_MAX_OBJECTS` objects. Answer: one ``TrackReport`` per frame with
    ``scan_time_s`` = the stimulation's header time, in the same antenna-centred frame.
    All ``track_id`` 0 means plots (position and its 3x3 covariance in the first block,
    identity FRIEND for an IFF reply); non-zero ids mean the board tracks itself.
    """

    def __init__(
        self,
        env: simpy.Environment,
        bus: Bus,
        topics: Topics,
        rng: np.random.Generator,
        radar_id: str,
        model: RadarModel,
        tracker: TrackerParams,
        scan_period_s: float,
        device: DeviceSide,
        life: Callable[[], int],
        device_timeout_s: float,
    ) -> None:
        super().__init__(env, bus, topics, rng, radar_id, model, tracker, scan_period_s)
        position_m = model.position_m
        self.device = device
        self.life = life
        self.device_timeout_s = device_timeout_s
        self.health = DeviceHealth(last_heard_s=float(env.now))
        self.radar_m = np.asarray(position_m, dtype=np.float64)
        self.stimulations = 0
        self.replies_missing = 0
        self.replies_stale = 0
        self.plots = 0
        self._pending: _Scan | None = None
        self._sequence = 0

    def _scan(self) -> None:
        if self._pending is not None:
            self.replies_missing += self._pending.expected - len(self._pending.replies)
            self._finish(self._pending)
        now = self.now
        chunks = self._stimulation(now)
        for chunk in chunks:
            self._sequence += 1
            self.device.send_message(m.Header(self.id, self._sequence, now), chunk)
        self.stimulations += 1
        self._pending = _Scan(now, len(chunks))

    def _stimulation(self, now: float) -> list[m.TruthReport]:
        truth = self.truth
        if truth is None:
            return [_truth_subset(None, np.zeros(0, dtype=np.int64), np.zeros((0, 6)))]
        active = np.flatnonzero(truth.status == m.ObjectStatus.ACTIVE)
        st = truth.state[active]
        pos = st[:, :3] + st[:, 3:] * (now - self.truth_time_s)
        range_m, _az, elevation_rad = enu_to_polar(self.radar_m, pos)
        visible = (
            (range_m <= self.model.max_range_m)
            & (range_m <= horizon_range_m(self.radar_m[2], pos[:, 2]))
            & (elevation_rad <= self.model.max_elevation_rad)
        )
        idx = active[visible]
        state = np.hstack([pos[visible] - self.radar_m, st[visible, 3:]])
        k = STIMULUS_MAX_OBJECTS
        parts = [(idx[i : i + k], state[i : i + k]) for i in range(0, len(idx), k)] or [(idx, state)]
        return [_truth_subset(truth, i, s) for i, s in parts]

    def from_device(self, msg: m.Message) -> None:
        """One message from the board, at the current simulated time."""
        self._heard()
        body = msg.body
        if isinstance(body, m.NodeState):
            self._beacon(body)
            return
        if not isinstance(body, m.TrackReport):
            self.health.foreign += 1
            log.warning("%s: refused a %s from the board", self.id, type(body).__name__)
            return
        scan = self._pending
        if scan is None or body.scan_time_s != scan.time_s:
            self.replies_stale += 1
            return
        scan.replies.append(body)
        if len(scan.replies) >= scan.expected:
            self._finish(scan)

    def _finish(self, scan: _Scan) -> None:
        self._pending = None
        replies = scan.replies
        if not replies:
            return
        if all(not len(r) or not r.track_id.any() for r in replies):
            self._track_plots(scan.time_s, replies)
            return
        state = np.concatenate([r.state for r in replies])
        state[:, :3] += self.radar_m
        self.scans += 1
        self.publish(
            "tracks",
            m.TrackReport(
                scan_time_s=scan.time_s,
                track_id=np.concatenate([r.track_id for r in replies]),
                state=state,
                covariance=np.concatenate([r.covariance for r in replies]),
                status=np.concatenate([r.status for r in replies]),
                identity=np.concatenate([r.identity for r in replies]),
                classification=np.concatenate([r.classification for r in replies]),
                truth_id=tuple(t for r in replies for t in r.truth_id),
            ),
        )

    def _track_plots(self, time_s: float, replies: list[m.TrackReport]) -> None:
        state = np.concatenate([r.state for r in replies]).reshape(-1, 6)
        cov = np.concatenate([r.covariance for r in replies]).reshape(-1, 6, 6)
        truth_ids = [t for r in replies for t in r.truth_id]
        identity = np.concatenate([r.identity for r in replies])
        names = self.truth.object_id if self.truth is not None else ()
        index = {name: i for i, name in enumerate(names)}
        truth_index = np.array([index.get(t, -1) if t else -1 for t in truth_ids], dtype=np.int64)
        self.plots += len(truth_ids)
        tracks = self.tracker.step(
            time_s,
            state[:, :3] + self.radar_m,
            cov[:, :3, :3],
            truth_index,
            identity == m.Identity.FRIEND,
        )
        self.scans += 1
        self.publish("tracks", track_report(time_s, tracks, names))

    def setup(self) -> None:
        super().setup()
        self.every(self.device_timeout_s / 4, self._watchdog, first_s=self.device_timeout_s / 4)
        self._hello()


def _truth_subset(truth: m.TruthReport | None, idx: m.IntArray, state: m.FloatArray) -> m.TruthReport:
    if truth is None:
        return m.TruthReport.empty()
    return m.TruthReport(
        object_id=tuple(truth.object_id[i] for i in idx.tolist()),
        kind=truth.kind[idx],
        friendly=truth.friendly[idx],
        iff=truth.iff[idx],
        rcs_m2=truth.rcs_m2[idx],
        status=truth.status[idx],
        state=np.asarray(state, dtype=np.float64).reshape(-1, 6),
    )
