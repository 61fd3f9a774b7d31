"""System tracks: the FDC's fused air picture from every radar's local tracks.

Fusion follows the reporting-responsibility idea of tactical data links: each
system track takes its state from the contributing radar whose track is the
most accurate (smallest position covariance trace), switching when another
radar reports better or the current source goes stale. Radar tracks are
associated to system tracks once, when first confirmed, by distance; after
that the (radar, local id) pair stays mapped until the radar drops it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from protocols.messages import Identity, TrackReport, TrackStatus

FloatArray = npt.NDArray[np.float64]

# Plain ints: comparing numpy arrays with IntEnum members is slow.
_DROPPED = int(TrackStatus.DROPPED)
_CONFIRMED = int(TrackStatus.CONFIRMED)
_FRIEND = int(Identity.FRIEND)


@dataclass(frozen=True, slots=True)
class Picture:
    """The live system tracks, predicted to ``time_s``; columns of length N."""

    time_s: float
    track_id: npt.NDArray[np.int64]
    state: FloatArray
    """(N, 6) position [m] and velocity [m/s], ENU."""
    position_variance_m2: FloatArray
    """Trace of the position covariance of the chosen source."""
    friend: npt.NDArray[np.bool_]
    """A radar reported an IFF friend on this track within the friend memory."""
    fresh_s: FloatArray
    """Scan time of the last update from a radar track that was not coasting (-inf: none)."""
    classification: npt.NDArray[np.int64]
    first_seen_s: FloatArray
    truth_id: tuple[str, ...]
    """Scoring annotation from simulated radars ('' when unknown)."""

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


class SystemTracks:
    """Holds system tracks; updated by radar reports, read as a :class:`Picture`."""

    def __init__(
        self, gate_m: float, timeout_s: float, stale_s: float = 5.0, friend_memory_s: float = 30.0
    ) -> None:
        if gate_m <= 0 or timeout_s <= 0:
            raise ValueError(f"gate_m and timeout_s must be > 0 (got {gate_m}, {timeout_s})")
        if friend_memory_s < 0:
            raise ValueError(f"friend_memory_s must be >= 0 (got {friend_memory_s})")
        self.gate_m = gate_m
        self.friend_memory_s = friend_memory_s
        self.timeout_s = timeout_s
        self.stale_s = stale_s
        self._next_id = 1
        cap = 64
        self.ids = np.zeros(cap, dtype=np.int64)
        self.alive = np.zeros(cap, dtype=bool)
        self.state = np.zeros((cap, 6))
        self.time = np.zeros(cap)
        """When the chosen source last updated the state."""
        self.seen = np.zeros(cap)
        """When any radar last reported the track (drives pruning)."""
        self.quality = np.full(cap, np.inf)
        self.source = np.full(cap, -1, dtype=np.int64)
        self.friend_until = np.full(cap, -np.inf)
        """A radar reported an IFF friend on the track; it counts as a friend until this time."""
        self.fresh = np.full(cap, -np.inf)
        """Scan time of the last update from a radar track that was not coasting."""
        self.cls = np.ones(cap, dtype=np.int64)
        self.first_seen = np.zeros(cap)
        self.truth: list[str] = [""] * cap
        self._map: dict[int, dict[int, int]] = {}
        """Radar index -> (radar track id -> slot)."""
        self._radar_index: dict[str, int] = {}
        self._free: list[int] = list(range(cap - 1, -1, -1))

    def _grow(self) -> None:
        cap = len(self.ids)
        new = cap * 2
        for name in (
            "ids",
            "alive",
            "state",
            "time",
            "seen",
            "quality",
            "source",
            "friend_until",
            "fresh",
            "cls",
            "first_seen",
        ):
            old = getattr(self, name)
            arr = np.zeros((new, *old.shape[1:]), dtype=old.dtype)
            arr[:cap] = old
            setattr(self, name, arr)
        self.quality[cap:] = np.inf
        self.friend_until[cap:] = -np.inf
        self.fresh[cap:] = -np.inf
        self.source[cap:] = -1
        self.cls[cap:] = 1
        self.truth += [""] * cap
        self._free = list(range(new - 1, cap - 1, -1)) + self._free

    def _new_slot(self, now: float) -> int:
        if not self._free:
            self._grow()
        slot = self._free.pop()
        self.ids[slot] = self._next_id
        self._next_id += 1
        self.alive[slot] = True
        self.quality[slot] = np.inf
        self.source[slot] = -1
        self.friend_until[slot] = -np.inf
        self.fresh[slot] = -np.inf
        self.first_seen[slot] = now
        self.time[slot] = now
        self.seen[slot] = now
        self.cls[slot] = 1
        self.truth[slot] = ""
        return slot

    def update(self, radar_id: str, report: TrackReport, now: float) -> None:
        """Fold one radar scan into the system tracks."""
        radar = self._radar_index.setdefault(radar_id, len(self._radar_index))
        n = len(report)
        if n == 0:
            return
        mapping = self._map.setdefault(radar, {})
        keys = report.track_id.tolist()
        slots = np.fromiter((mapping.get(k, -1) for k in keys), dtype=np.int64, count=n)
        status = report.status
        dropped = np.flatnonzero((status == _DROPPED) & (slots >= 0))
        for i in dropped.tolist():
            del mapping[keys[i]]
        slots[dropped] = -1
        self._split_diverged(radar, mapping, report, keys, slots, now)
        pos_var = np.trace(report.covariance[:, :3, :3], axis1=1, axis2=2)
        fresh = np.flatnonzero((slots < 0) & (status == _CONFIRMED))
        if fresh.size:
            self._associate(mapping, report, fresh, slots, now)
        idx = np.flatnonzero(slots >= 0)
        if not idx.size:
            return
        sl = slots[idx]
        self.seen[sl] = now
        dt = now - report.scan_time_s
        st = report.state[idx].copy()
        st[:, :3] += st[:, 3:] * dt
        better = (
            (self.source[sl] == radar)
            | (pos_var[idx] <= self.quality[sl])
            | (now - self.time[sl] > self.stale_s)
        )
        take = sl[better]
        self.state[take] = st[better]
        self.time[take] = now
        self.quality[take] = pos_var[idx][better]
        self.source[take] = radar
        self.cls[take] = report.classification[idx][better]
        self.friend_until[sl] = np.where(
            report.identity[idx] == _FRIEND, now + self.friend_memory_s, self.friend_until[sl]
        )
        self.fresh[sl] = np.where(status[idx] == _CONFIRMED, report.scan_time_s, self.fresh[sl])
        truth = report.truth_id
        for j, slot in zip(idx[better].tolist(), take.tolist(), strict=True):
            if truth[j]:
                self.truth[slot] = truth[j]

    def _split_diverged(
        self,
        radar: int,
        mapping: dict[int, int],
        report: TrackReport,
        keys: list[int],
        slots: npt.NDArray[np.int64],
        now: float,
    ) -> None:
        """Unmap radar tracks that have drifted far from the system track another radar leads.

        Association happens once, by distance; two targets flying close together can be
        joined by mistake. When this radar's track and the leading source disagree by
        more than twice the gate (hysteresis against noise), the radar track leaves and
        is associated afresh: the two targets become two system tracks again.
        """
        idx = np.flatnonzero(slots >= 0)
        if not idx.size:
            return
        sl = slots[idx]
        led = (self.source[sl] != radar) & (self.source[sl] >= 0) & (now - self.time[sl] <= self.stale_s)
        if not led.any():
            return
        idx, sl = idx[led], sl[led]
        theirs = self.state[sl, :3] + self.state[sl, 3:] * (now - self.time[sl])[:, None]
        mine = report.state[idx, :3] + report.state[idx, 3:] * (now - report.scan_time_s)
        far = np.linalg.norm(mine - theirs, axis=1) > 2.0 * self.gate_m
        for i in idx[far].tolist():
            del mapping[keys[i]]
            slots[i] = -1

    def _associate(
        self,
        mapping: dict[int, int],
        report: TrackReport,
        fresh: npt.NDArray[np.int64],
        slots: npt.NDArray[np.int64],
        now: float,
    ) -> None:
        live = np.flatnonzero(self.alive)
        # A radar never feeds one system track with two of its own tracks.
        taken = set(mapping.values())
        if live.size:
            pred = self.state[live, :3] + self.state[live, 3:] * (now - self.time[live])[:, None]
        for i in fresh.tolist():
            key = int(report.track_id[i])
            pos = report.state[i, :3]
            slot = -1
            if live.size:
                d = np.linalg.norm(pred - pos, axis=1)
                near = np.flatnonzero(d <= self.gate_m)
                for j in near[np.argsort(d[near])].tolist():
                    if int(live[j]) not in taken:
                        slot = int(live[j])
                        break
            if slot < 0:
                slot = self._new_slot(now)
                self.state[slot] = report.state[i]
                self.time[slot] = now
            mapping[key] = slot
            taken.add(slot)
            slots[i] = slot

    def prune(self, now: float) -> list[int]:
        """Drop system tracks no radar updated for ``timeout_s``; returns their ids."""
        dead = np.flatnonzero(self.alive & (now - self.seen > self.timeout_s))
        if not dead.size:
            return []
        dead_set = set(dead.tolist())
        for radar, mapping in self._map.items():
            self._map[radar] = {k: v for k, v in mapping.items() if v not in dead_set}
        self.alive[dead] = False
        self._free.extend(sorted(dead_set, reverse=True))
        return [int(x) for x in self.ids[dead]]

    def picture(self, now: float) -> Picture:
        """Live system tracks predicted to ``now``."""
        live = np.flatnonzero(self.alive)
        st = self.state[live].copy()
        st[:, :3] += st[:, 3:] * (now - self.time[live])[:, None]
        return Picture(
            time_s=now,
            track_id=self.ids[live].copy(),
            state=st,
            position_variance_m2=self.quality[live].copy(),
            friend=self.friend_until[live] >= now,
            fresh_s=self.fresh[live].copy(),
            classification=self.cls[live].copy(),
            first_seen_s=self.first_seen[live].copy(),
            truth_id=tuple(self.truth[s] for s in live.tolist()),
        )
