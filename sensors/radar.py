"""The radar node: truth in, one track report per scan out.

Truth arrives as the world's truth reports and is extrapolated to each scan
time with its velocity, so a radar node behaves the same in-process and as a
separate process on MQTT.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import simpy

from bmc.engine.node import Node
from bmc.scenario import Radar
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
        config: Radar,
        position_m: tuple[float, float, float],
    ) -> None:
        super().__init__(config.id, env, bus, topics, rng)
        self.config = config
        self.model = RadarModel(
            position_m=position_m,
            max_range_m=config.max_range_m,
            reference_range_m=config.reference_range_m,
            reference_rcs_m2=config.reference_rcs_m2,
            reference_pd=config.reference_pd,
            false_alarm_probability=config.false_alarm_probability,
            swerling=config.swerling,
            false_alarms_per_scan=config.false_alarms_per_scan,
            max_elevation_rad=math.radians(config.max_elevation_deg),
            sigma_range_m=config.sigma_range_m,
            sigma_azimuth_rad=math.radians(config.sigma_azimuth_deg),
            sigma_elevation_rad=math.radians(config.sigma_elevation_deg),
            iff=config.iff,
            iff_reply_probability=config.iff_reply_probability,
        )
        t = config.tracker
        self.tracker = Tracker(
            TrackerParams(
                confirm_hits=t.confirm_hits,
                drop_misses=t.drop_misses,
                gate_sigma=t.gate_sigma,
                process_noise_mps2=t.process_noise_mps2,
                iff_memory_scans=t.iff_memory_scans,
            )
        )
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
        phase = float(self.rng.uniform(0.0, self.config.scan_period_s))
        self.every(self.config.scan_period_s, self._scan, first_s=phase)
