"""System tracks: the FDC's fused air picture from every radar's local tracks.

Fusion follows the reporting-responsibility idea of tactical data links: each
system track takes its state from the contributing radar whose track is the
most accurate (smallest position covariance trace), switching when another
radar reports better or the current source goes stale. Radar tracks are
associated to system tracks once, when first confirmed, by distance; after
that the (radar, local id) pair stays mapped until the radar drops it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bmc.engine import detmath
from protocols.messages import Identity, TrackReport, TrackStatus

FloatArray = npt.NDArray[np.float64]

# Plain ints: comparing numpy arrays with IntEnum members is slow.
_DROPPED = int(TrackStatus.DROPPED)
_CONFIRMED = int(TrackStatus.CONFIRMED)
_FRIEND = int(Identity.FRIEND)

# Fusion runs once per radar scan on a few dozen tracks, where numpy's per-call
# overhead dominates: x.nonzero()[0] stands for np.flatnonzero (6x cheaper on a
# 1-D array), and the size of that index array for x.any().


def _norm3(d: FloatArray) -> FloatArray:
    """Euclidean norm over the first axis of ``d`` (3, ...): coordinates as rows.

    Summed left to right, as np.linalg.norm sums a row of 3 (bit for bit), but over
    whole rows at once instead of many rows of 3, which costs far less in numpy.
    """
    return detmath.norm3(d[0], d[1], d[2])


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
        self._slot_of: dict[int, int] = {}
        """Id of each live system track -> its slot."""

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
        self._slot_of[self._next_id] = slot
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
        slots = np.fromiter(map(mapping.get, keys, itertools.repeat(-1)), dtype=np.int64, count=n)
        status = report.status
        dropped = ((status == _DROPPED) & (slots >= 0)).nonzero()[0]
        if dropped.size:
            for i in dropped.tolist():
                del mapping[keys[i]]
            slots[dropped] = -1
        predicted = report.state.copy()  # every radar track, predicted to now
        predicted[:, :3] += predicted[:, 3:] * (now - report.scan_time_s)
        self._split_diverged(radar, mapping, predicted, keys, slots, now)
        cov = report.covariance
        pos_var = cov[:, 0, 0] + cov[:, 1, 1] + cov[:, 2, 2]  # np.trace's order of summation
        confirmed = status == _CONFIRMED
        fresh = ((slots < 0) & confirmed).nonzero()[0]
        if fresh.size:
            self._associate(mapping, report, fresh, slots, now)
        idx = (slots >= 0).nonzero()[0]
        if not idx.size:
            return
        sl = slots[idx]
        self.seen[sl] = now
        var = pos_var[idx]
        better = (self.source[sl] == radar) | (var <= self.quality[sl]) | (now - self.time[sl] > self.stale_s)
        take = sl[better]
        rows = idx[better]
        # take(): rows by an index array at a fraction of the cost of predicted[rows].
        self.state[take] = predicted.take(rows, axis=0)
        self.time[take] = now
        self.quality[take] = var[better]
        self.source[take] = radar
        self.cls[take] = report.classification[rows]
        self.friend_until[sl] = np.where(
            report.identity[idx] == _FRIEND, now + self.friend_memory_s, self.friend_until[sl]
        )
        self.fresh[sl] = np.where(confirmed[idx], report.scan_time_s, self.fresh[sl])
        truth, names = report.truth_id, self.truth
        for j, slot in zip(rows.tolist(), take.tolist(), strict=True):
            name = truth[j]
            if name:
                names[slot] = name

    def _split_diverged(
        self,
        radar: int,
        mapping: dict[int, int],
        predicted: FloatArray,
        keys: list[int],
        slots: npt.NDArray[np.int64],
        now: float,
    ) -> None:
        """Unmap radar tracks that have drifted far from the system track another radar leads.

        Association happens once, by distance; two targets flying close together can be
        joined by mistake. When this radar's track and the leading source disagree by
        more than twice the gate (hysteresis against noise), the radar track leaves and
        is associated afresh: the two targets become two system tracks again.
        ``predicted`` is the report's state predicted to ``now``.
        """
        idx = (slots >= 0).nonzero()[0]
        if not idx.size:
            return
        sl = slots[idx]
        source = self.source[sl]
        age = now - self.time[sl]
        led = ((source != radar) & (source >= 0) & (age <= self.stale_s)).nonzero()[0]
        if not led.size:
            return
        idx, sl, age = idx[led], sl[led], age[led]
        leader = self.state.take(sl, axis=0).T
        theirs = leader[:3] + leader[3:] * age
        far = (_norm3(predicted.take(idx, axis=0)[:, :3].T - theirs) > 2.0 * self.gate_m).nonzero()[0]
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
        live = self.alive.nonzero()[0]
        live_slots = live.tolist()
        # A radar never feeds one system track with two of its own tracks.
        taken = set(mapping.values())
        keys = report.track_id[fresh].tolist()
        if live.size:
            st = self.state.take(live, axis=0).T
            pred = st[:3] + st[3:] * (now - self.time[live])
            # Distances of every fresh track (rows) to every live system track at once.
            dist = _norm3(pred[:, None, :] - report.state.take(fresh, axis=0)[:, :3].T[:, :, None])
            within = dist <= self.gate_m
        for k, i in enumerate(fresh.tolist()):
            slot = -1
            if live.size:
                near = within[k].nonzero()[0]
                if near.size > 1:  # nearest first
                    near = near[dist[k][near].argsort()]  # np.argsort's Python wrapper costs more
                for j in near.tolist():
                    if live_slots[j] not in taken:
                        slot = live_slots[j]
                        break
            if slot < 0:
                slot = self._new_slot(now)
                self.state[slot] = report.state[i]
                self.time[slot] = now
            mapping[keys[k]] = slot
            taken.add(slot)
            slots[i] = slot

    def prune(self, now: float) -> list[int]:
        """Drop system tracks no radar updated for ``timeout_s``; returns their ids."""
        dead = (self.alive & (now - self.seen > self.timeout_s)).nonzero()[0]
        if not dead.size:
            return []
        dead_set = set(dead.tolist())
        for radar, mapping in self._map.items():
            self._map[radar] = {k: v for k, v in mapping.items() if v not in dead_set}
        self.alive[dead] = False
        self._free.extend(sorted(dead_set, reverse=True))
        dead_ids: list[int] = self.ids[dead].tolist()
        for track_id in dead_ids:
            del self._slot_of[track_id]
        return dead_ids

    def slot_of(self, track_id: int) -> int | None:
        """The slot of a live system track, None when there is none of that id. Live
        tracks appear in a :class:`Picture` in the order of their slots."""
        return self._slot_of.get(track_id)

    def picture(self, now: float) -> Picture:
        """Live system tracks predicted to ``now``."""
        live = self.alive.nonzero()[0]
        st = self.state.take(live, axis=0)
        st[:, :3] += st[:, 3:] * (now - self.time[live])[:, None]
        truth = self.truth
        return Picture(  # indexing with an index array already copies
            time_s=now,
            track_id=self.ids[live],
            state=st,
            position_variance_m2=self.quality[live],
            friend=self.friend_until[live] >= now,
            fresh_s=self.fresh[live],
            classification=self.cls[live],
            first_seen_s=self.first_seen[live],
            truth_id=tuple([truth[s] for s in live.tolist()]),
        )
