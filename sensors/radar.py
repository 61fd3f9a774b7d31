"""The radar node: truth in, one track report per scan out.

Truth arrives as the world's truth reports and is extrapolated to each scan
time with its velocity, so a radar node behaves the same in-process and as a
separate process on MQTT.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import simpy

from bmc.engine.node import Node
from protocols import messages as m
from protocols.bus import Bus
from protocols.topics import Topics
from sensors.detection import RadarModel, scan
from sensors.tracker import Tracker, TrackerParams, TrackSet


def track_report(scan_time_s: float, tracks: TrackSet, names: Sequence[str]) -> m.TrackReport:
    """The report of one scan; ``names`` maps the tracker's truth indices to object ids."""
    return m.TrackReport(
        scan_time_s=scan_time_s,
        track_id=tracks.track_id,
        state=tracks.state,
        covariance=tracks.covariance,
        status=tracks.status,
        identity=tracks.identity,
        classification=tracks.classification,
        truth_id=tuple(names[i] if i >= 0 else "" for i in tracks.truth_index.tolist()),
    )


_ACTIVE = int(m.ObjectStatus.ACTIVE)  # numpy compares a plain int faster than an IntEnum
_NO_TRUTH = np.array([-1], dtype=np.int64)
_NO_TRUTH.flags.writeable = False


class RadarNode(Node):
    """A simulated surveillance radar with IFF and a local tracker."""

    kind = "radar"

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
    ) -> None:
        super().__init__(radar_id, env, bus, topics, rng)
        if not scan_period_s > 0:
            raise ValueError(f"scan_period_s must be > 0 (got {scan_period_s})")
        self.model = model
        self.scan_period_s = scan_period_s
        self.tracker = Tracker(tracker)
        self.truth: m.TruthReport | None = None
        self.truth_time_s = 0.0
        self.scans = 0

    def _on_truth(self, msg: m.Message) -> None:
        assert isinstance(msg.body, m.TruthReport)
        self.truth = msg.body
        self.truth_time_s = msg.header.sim_time_s

    def _scan(self) -> None:
        now = self.now
        truth = self.truth
        if truth is not None:
            # take() rather than fancy indexing: the same rows at a fraction of the call overhead.
            active = (truth.status == _ACTIVE).nonzero()[0]
            st = truth.state.take(active, axis=0)
            pos = st[:, :3] + st[:, 3:] * (now - self.truth_time_s)
            plots = scan(self.model, pos, truth.rcs_m2.take(active), truth.iff.take(active), self.rng)
            names = truth.object_id
            # The tracker keeps indices across scans: map them to the stable full-report order.
            # Plots index the active objects and false alarms are -1, so one lookup through
            # the active indices with a -1 appended (index -1 is that last entry) maps both.
            truth_index = np.concatenate((active, _NO_TRUTH)).take(plots.truth_index)
        else:
            plots = scan(self.model, np.zeros((0, 3)), np.zeros(0), np.zeros(0, dtype=bool), self.rng)
            names = ()
            truth_index = plots.truth_index
        tracks = self.tracker.step(now, plots.position_m, plots.covariance_m2, truth_index, plots.iff_reply)
        self.scans += 1
        self.publish("tracks", track_report(now, tracks, names))

    def setup(self) -> None:
        self.on(self.topics.topic("world", "world", "truth"), self._on_truth)
        phase = float(self.rng.uniform(0.0, self.scan_period_s))
        self.every(self.scan_period_s, self._scan, first_s=phase)
