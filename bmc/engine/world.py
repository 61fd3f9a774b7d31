"""Truth: air objects on waypoint paths, interceptor flyouts, outcomes.

Paths are piecewise linear at constant speed per leg and evaluated
analytically at any time. The world publishes a truth report every
``truth_period_s``, a flyout for every interceptor a launcher reports
launched, and a detonation for every outcome: kill, miss, or a hostile
reaching a defended asset.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import simpy

from bmc.engine import detmath
from bmc.engine.node import Node
from bmc.scenario import FlightPlan, Launcher
from launchers.intercept import path_intercept_time
from protocols import messages as m
from protocols.bus import Bus
from protocols.topics import Topics

KIND_CLASS = {
    "drone": m.Classification.DRONE,
    "cruise_missile": m.Classification.CRUISE_MISSILE,
    "fighter": m.Classification.FIGHTER,
    "helicopter": m.Classification.HELICOPTER,
    "transport": m.Classification.TRANSPORT,
}

_ACTIVE, _LANDED = int(m.ObjectStatus.ACTIVE), int(m.ObjectStatus.LANDED)
_LIVE = (int(m.ObjectStatus.PENDING), _ACTIVE)
"""Plain ints: comparing numpy scalars with IntEnum members is slow."""

SEEKER_GATE_M = 3_000.0
"""An interceptor's seeker locks the live object nearest the ordered target
estimate if it is within this distance; otherwise it flies to the predicted
point and self-destructs."""


@dataclass(frozen=True, slots=True, eq=False)
class ExternalObjects:
    """Air objects another simulator flies (DIS in), as their source sees them at one time:
    columns of equal length K, ``state`` (K, 6) local east/north/up and velocity."""

    object_id: tuple[str, ...]
    kind: npt.NDArray[np.int64]
    friendly: npt.NDArray[np.bool_]
    iff: npt.NDArray[np.bool_]
    rcs_m2: npt.NDArray[np.float64]
    state: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.object_id)


class ExternalSource(Protocol):
    """Where external objects come from (``bmc.interop.dis_in``): the world asks at each truth
    report and launch. An object the world ends (killed, or it reached an asset) is ended
    for its source too: whatever its simulator sends afterwards is ignored."""

    def sample(self, time_s: float) -> ExternalObjects:
        """The live external objects at simulated ``time_s``."""
        ...

    def end(self, object_id: str) -> None:
        """``object_id`` is killed or leaked in our world."""
        ...


@dataclass(slots=True)
class _Gone:
    """An external object no longer flying: killed, leaked, or its PDUs stopped."""

    kind: int
    friendly: bool
    iff: bool
    rcs_m2: float
    state: npt.NDArray[np.float64]
    status: int


@dataclass(frozen=True, slots=True)
class AssetZone:
    """A defended asset as the world sees it."""

    id: str
    east_m: float
    north_m: float
    radius_m: float


class Paths:
    """Vectorised piecewise-linear paths of N objects (legs padded to the longest).

    :meth:`state_at` remembers which leg every object was on at its last call and
    revisits only the objects that changed leg, started or ended in between.
    """

    def __init__(self, plans: list[FlightPlan]) -> None:
        n = len(plans)
        legs = max((len(p.speeds_mps) for p in plans), default=1)
        self.leg_start_s = np.full((n, legs), np.inf)
        self.leg_start_m = np.zeros((n, legs, 3))
        self.leg_velocity = np.zeros((n, legs, 3))
        self.start_s = np.zeros(n)
        self.end_s = np.zeros(n)
        self.end_m = np.zeros((n, 3))
        for i, p in enumerate(plans):
            t = p.start_s
            pts = np.asarray(p.points_m, dtype=float)
            for k, speed in enumerate(p.speeds_mps):
                delta = pts[k + 1] - pts[k]
                dist = math.sqrt(delta[0] * delta[0] + delta[1] * delta[1] + delta[2] * delta[2])
                dur = dist / speed
                self.leg_start_s[i, k] = t
                self.leg_start_m[i, k] = pts[k]
                self.leg_velocity[i, k] = delta / dur if dur > 0 else 0.0
                t += dur
            self.start_s[i] = p.start_s
            self.end_s[i] = t
            self.end_m[i] = pts[-1]
        self.n = n
        # Every time at which an object's leg, start or end changes, with the object.
        # Between two of them every comparison of t with a leg start, start or end
        # time comes out the same, so state_at keeps the leg selection of the last
        # call and redoes it only for the objects whose boundaries it crossed.
        events = sorted(
            (float(b), i)
            for i in range(n)
            for b in (*self.leg_start_s[i].tolist(), self.start_s[i], self.end_s[i])
        )
        self._boundaries_s: list[float] = [e[0] for e in events]
        self._boundary_object = [e[1] for e in events]
        self._selected_at: int | None = None
        """interval() of the time the selection below was made for (None: none made)."""
        self._leg_start_s = np.zeros(n)
        """Start time of each object's selected leg."""
        # Coordinates as rows (3, N): the per-call arithmetic then runs over N
        # contiguous values instead of N short rows of 3, several times faster.
        self._leg_start_m = np.zeros((3, n))
        self._velocity = np.zeros((3, n))
        """Velocity on the selected leg."""
        self._out_velocity = np.zeros((3, n))
        """Reported velocity: zero for objects not started or already ended."""
        self._fixed = np.zeros(n, dtype=bool)
        """Objects not started or already ended: they stay at _fixed_pos."""
        self._fixed_pos = np.zeros((3, n))
        self._legs_of: dict[int, tuple[npt.NDArray[np.float64], ...]] = {}

    def interval(self, t: float) -> int:
        """Index of the interval between path boundaries (leg starts, starts, ends) that holds ``t``.

        Two times with the same index compare alike with every leg start, start
        and end time (a NaN time gets -1, which matches no other time).
        """
        return bisect.bisect_right(self._boundaries_s, t) if t == t else -1

    def crossed(self, before: int | None, after: int) -> Iterable[int]:
        """Objects with a boundary between intervals ``before`` and ``after`` (see :meth:`interval`).

        Only these can compare differently with a time in one and a time in the
        other; every object when either is unknown (None) or NaN's (-1).
        """
        if before is None or before < 0 or after < 0:
            return range(self.n)
        lo, hi = sorted((before, after))
        return set(self._boundary_object[lo:hi])

    def _select_legs(self, t: float) -> None:
        """Bring the leg selection up to time ``t``."""
        at = self.interval(t)
        if at == self._selected_at and at >= 0:
            return
        rows = self.crossed(self._selected_at, at)
        self._selected_at = at
        for i in rows:
            self._select_leg(i, t)

    def _leg_index(self, i: int, t: float) -> int:
        """Index of object ``i``'s last leg starting at or before ``t`` (0 before the first)."""
        starts: list[float] = self.leg_start_s[i].tolist()
        return max(sum(b <= t for b in starts) - 1, 0)

    def _select_leg(self, i: int, t: float) -> None:
        k = self._leg_index(i, t)
        v = self.leg_velocity[i, k]
        before = t < self.start_s[i]
        fixed = before or t >= self.end_s[i]
        self._leg_start_s[i] = self.leg_start_s[i, k]
        self._leg_start_m[:, i] = self.leg_start_m[i, k]
        self._velocity[:, i] = v
        self._fixed[i] = fixed
        if fixed:
            self._out_velocity[:, i] = 0.0
            self._fixed_pos[:, i] = self.leg_start_m[i, 0] if before else self.end_m[i]
        else:
            self._out_velocity[:, i] = v

    def state_at(self, t: float) -> npt.NDArray[np.float64]:
        """(N, 6) position and velocity of every object at time ``t`` (end point after the end)."""
        self._select_legs(t)
        dt = np.maximum(t - self._leg_start_s, 0.0)
        dt = np.where(np.isfinite(dt), dt, 0.0)
        out = np.empty((6, self.n))
        pos = out[:3]
        np.multiply(self._velocity, dt, out=pos)
        pos += self._leg_start_m
        np.copyto(pos, self._fixed_pos, where=self._fixed)
        out[3:] = self._out_velocity
        # Row-major (N, 6), as callers have always had it.
        return np.ascontiguousarray(out.T)

    def state_of(self, i: int, t: float) -> npt.NDArray[np.float64]:
        """(6,) position and velocity of object ``i`` alone at time ``t``."""
        if t < self.start_s[i]:
            return np.concatenate([self.leg_start_m[i, 0], np.zeros(3)])
        if t >= self.end_s[i]:
            return np.concatenate([self.end_m[i], np.zeros(3)])
        k = self._leg_index(i, t)
        v = self.leg_velocity[i, k]
        return np.concatenate([self.leg_start_m[i, k] + v * (t - self.leg_start_s[i, k]), v])

    def legs(
        self, i: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Leg start times, start points and velocities of object ``i``."""
        legs = self._legs_of.get(i)
        if legs is None:
            valid = np.isfinite(self.leg_start_s[i])
            legs = (self.leg_start_s[i, valid], self.leg_start_m[i, valid], self.leg_velocity[i, valid])
            for a in legs:
                a.setflags(write=False)  # shared by every caller
            self._legs_of[i] = legs
        return legs[0], legs[1], legs[2]


def first_entry_time(
    leg_start_s: npt.NDArray[np.float64],
    leg_start_m: npt.NDArray[np.float64],
    leg_velocity: npt.NDArray[np.float64],
    end_s: float,
    centre_en_m: tuple[float, float],
    radius_m: float,
) -> float | None:
    """First time the ground track comes within ``radius_m`` of ``centre_en_m``, or None."""
    c = np.asarray(centre_en_m)
    for k in range(len(leg_start_s)):
        a = float(leg_start_s[k])
        b = float(leg_start_s[k + 1]) if k + 1 < len(leg_start_s) else end_s
        d = leg_start_m[k, :2] - c
        v = leg_velocity[k, :2]
        # Products written out: ``@`` on vectors is a BLAS call, whose bits depend on the CPU.
        vx, vy, dx, dy = float(v[0]), float(v[1]), float(d[0]), float(d[1])
        qa, qb, qc = vx * vx + vy * vy, 2 * (dx * vx + dy * vy), (dx * dx + dy * dy) - radius_m * radius_m
        if qc <= 0:
            return a
        if qa == 0:
            continue
        disc = qb * qb - 4 * qa * qc
        if disc < 0:
            continue
        u = (-qb - math.sqrt(disc)) / (2 * qa)
        if 0 <= u <= b - a:
            return a + u
    return None


class World(Node):
    """The simulated truth of one run."""

    kind = "world"

    def __init__(
        self,
        env: simpy.Environment,
        bus: Bus,
        topics: Topics,
        rng: np.random.Generator,
        plans: list[FlightPlan],
        assets: list[AssetZone],
        launchers: dict[str, Launcher],
        truth_period_s: float,
        external: ExternalSource | None = None,
    ) -> None:
        super().__init__("world", env, bus, topics, rng)
        self.external = external
        """Objects flown from outside (DIS in, real-time runs); None in virtual runs."""
        self._gone: dict[str, _Gone] = {}
        """External objects that stopped flying, by id, in the order they stopped."""
        self._seen: dict[str, _Gone] = {}
        """Every external object's last sample (what it becomes when it stops)."""
        self.plans = plans
        self.paths = Paths(plans)
        self.assets = assets
        self.launchers = launchers
        self.truth_period_s = truth_period_s
        n = len(plans)
        self.object_ids = tuple(p.id for p in plans)
        self.index = {p.id: i for i, p in enumerate(plans)}
        self.kind_col = np.array([KIND_CLASS[p.kind] for p in plans], dtype=np.int64)
        self.friendly = np.array([p.friendly for p in plans], dtype=bool)
        self.iff = np.array([p.iff for p in plans], dtype=bool)
        self.rcs = np.array([p.rcs_m2 for p in plans], dtype=float)
        self.status = np.full(n, m.ObjectStatus.PENDING, dtype=np.int64)
        self.frozen_state = np.zeros((n, 6))
        self._ended = np.zeros(0, dtype=np.int64)
        """Objects killed or leaked (their status set by :meth:`_end` only), in ending order."""
        self._status_interval: int | None = None
        """Path interval of the last status refresh (see :meth:`_refresh_status`)."""
        self._start_s: list[float] = self.paths.start_s.tolist()
        self._end_s: list[float] = self.paths.end_s.tolist()
        self.interceptors = 0
        self.flown: set[str] = set()
        """Interceptor ids already flying or flown."""

    # ------------------------------------------------------------ truth

    def state(self, t: float) -> npt.NDArray[np.float64]:
        """(N, 6) truth state at ``t``; killed and leaked objects stay where they ended."""
        st = self.paths.state_at(t)
        if self._ended.size:
            st[self._ended] = self.frozen_state[self._ended]
        return st

    def _refresh_status(self, t: float) -> None:
        # An object whose start and end compare with t as they did at the last refresh
        # would not change (only _end changes a status otherwise, never to a live one):
        # refresh only the objects with a path boundary between then and t.
        interval = self.paths.interval(t)
        if interval == self._status_interval and interval >= 0:
            return
        rows = self.paths.crossed(self._status_interval, interval)
        self._status_interval = interval
        status, start_s, end_s = self.status, self._start_s, self._end_s
        for i in rows:
            if status[i] in _LIVE:
                if t >= start_s[i]:
                    status[i] = _ACTIVE
                if t >= end_s[i]:
                    status[i] = _LANDED

    def _publish_truth(self) -> None:
        t = self.now
        self._refresh_status(t)
        report = m.TruthReport(
            object_id=self.object_ids,
            kind=self.kind_col,
            friendly=self.friendly,
            iff=self.iff,
            rcs_m2=self.rcs,
            status=self.status.copy(),
            state=self.state(t),
        )
        if self.external is not None:
            report = self._with_external(report, t)
        self.publish("truth", report)

    # ------------------------------------------------------------ external objects

    def _external_now(self, t: float) -> ExternalObjects:
        """The live external objects, after ending any that reached an asset; remembers the
        last sample of each, so one whose PDUs stop stays in truth, landed where last seen."""
        assert self.external is not None
        ext = self.external.sample(t)
        live = set(ext.object_id)
        for oid in [o for o in self._seen if o not in live and o not in self._gone]:
            self._gone[oid] = self._seen[oid]
            self._gone[oid].status = _LANDED
        for k, oid in enumerate(ext.object_id):
            self._seen[oid] = _Gone(
                int(ext.kind[k]),
                bool(ext.friendly[k]),
                bool(ext.iff[k]),
                float(ext.rcs_m2[k]),
                ext.state[k].copy(),
                _ACTIVE,
            )
            self._gone.pop(oid, None)
            if not ext.friendly[k]:
                for a in self.assets:
                    gap = detmath.hypot(ext.state[k, 0] - a.east_m, ext.state[k, 1] - a.north_m)
                    if detmath.scalar(gap) <= a.radius_m:
                        self._end_external(oid, m.ObjectStatus.LEAKED)
                        self._publish_asset_hit(oid, a, ext.state[k, :3])
                        break
        if any(oid in self._gone for oid in ext.object_id):
            keep = [k for k, oid in enumerate(ext.object_id) if oid not in self._gone]
            ext = ExternalObjects(
                tuple(ext.object_id[k] for k in keep),
                ext.kind[keep],
                ext.friendly[keep],
                ext.iff[keep],
                ext.rcs_m2[keep],
                ext.state[keep],
            )
        return ext

    def _end_external(self, oid: str, status: m.ObjectStatus) -> None:
        assert self.external is not None
        gone = self._gone[oid] = self._seen[oid]
        gone.status = int(status)
        gone.state[3:] = 0.0
        self.external.end(oid)

    def _with_external(self, report: m.TruthReport, t: float) -> m.TruthReport:
        ext = self._external_now(t)
        gone = list(self._gone.items())
        if not len(ext) and not gone:
            return report
        return m.TruthReport(
            object_id=report.object_id + ext.object_id + tuple(o for o, _g in gone),
            kind=np.concatenate(
                [report.kind, ext.kind, np.array([g.kind for _o, g in gone], dtype=np.int64)]
            ),
            friendly=np.concatenate(
                [report.friendly, ext.friendly, np.array([g.friendly for _o, g in gone], dtype=bool)]
            ),
            iff=np.concatenate([report.iff, ext.iff, np.array([g.iff for _o, g in gone], dtype=bool)]),
            rcs_m2=np.concatenate([report.rcs_m2, ext.rcs_m2, np.array([g.rcs_m2 for _o, g in gone])]),
            status=np.concatenate(
                [
                    report.status,
                    np.full(len(ext), _ACTIVE, dtype=np.int64),
                    np.array([g.status for _o, g in gone], dtype=np.int64),
                ]
            ),
            state=np.concatenate(
                [report.state, ext.state, np.array([g.state for _o, g in gone]).reshape(-1, 6)]
            ),
        )

    # ------------------------------------------------------------ leakers

    def _schedule_leaks(self) -> None:
        for i, plan in enumerate(self.plans):
            if plan.friendly:
                continue
            best: tuple[float, AssetZone] | None = None
            starts, points, vels = self.paths.legs(i)
            for a in self.assets:
                t = first_entry_time(
                    starts, points, vels, float(self.paths.end_s[i]), (a.east_m, a.north_m), a.radius_m
                )
                if t is not None and (best is None or t < best[0]):
                    best = (t, a)
            if best is not None:
                self._at(best[0], self._leak, i, best[1])

    def _at(self, time_s: float, action: Callable[..., None], *args: Any) -> None:
        ev = self.env.timeout(max(time_s - self.now, 0.0))
        ev.callbacks.append(lambda _e: action(*args))

    def _end(self, i: int, status: m.ObjectStatus) -> None:
        self.frozen_state[i] = self.paths.state_of(i, self.now)
        self.frozen_state[i, 3:] = 0.0
        self.status[i] = status
        self._ended = np.append(self._ended, i)

    def _leak(self, i: int, asset: AssetZone) -> None:
        if self.status[i] in (m.ObjectStatus.KILLED, m.ObjectStatus.LEAKED):
            return
        self._end(i, m.ObjectStatus.LEAKED)
        self._publish_asset_hit(self.object_ids[i], asset, self.frozen_state[i, :3])

    def _publish_asset_hit(self, object_id: str, asset: AssetZone, pos: npt.NDArray[np.float64]) -> None:
        self.publish(
            "detonation",
            m.Detonation(
                interceptor_id="",
                order_id="",
                object_id=object_id,
                asset_id=asset.id,
                outcome=m.DetonationOutcome.ASSET_HIT,
                position_m=(float(pos[0]), float(pos[1]), float(pos[2])),
            ),
        )

    # ------------------------------------------------------------ interceptors

    def _alive(self, t: float) -> npt.NDArray[np.bool_]:
        self._refresh_status(t)
        return np.asarray(self.status == _ACTIVE)

    def _is_alive(self, i: int, t: float) -> bool:
        self._refresh_status(t)
        return bool(self.status[i] == _ACTIVE)

    def _on_engagement(self, msg: m.Message) -> None:
        e = msg.body
        assert isinstance(e, m.EngagementStatus)
        if e.state != m.EngagementState.LAUNCHED:
            return
        launcher = self.launchers.get(e.launcher_id)
        if launcher is None:
            return
        missile = e.interceptor_id or f"{e.launcher_id}/{e.order_id}/{e.round}"
        if missile in self.flown:
            # A redelivered LAUNCHED (QoS 1 after a reconnect) is the same missile, not another.
            return
        self.flown.add(missile)
        t0 = self.now
        self.interceptors += 1
        lpos = np.asarray(e.launcher_position_m)
        est = np.asarray(e.target_position_m) + np.asarray(e.target_velocity_mps) * (t0 - e.target_time_s)
        alive = self._alive(t0).nonzero()[0]
        target = -1
        nearest_m = math.inf
        if alive.size:
            # The nearest live object (the first of equals, as np.argmin picks).
            d = self.state(t0)[alive, :3] - est
            dist = detmath.norm3(d[:, 0], d[:, 1], d[:, 2])
            j = int(np.argmin(dist))
            if dist[j] <= SEEKER_GATE_M:
                target, nearest_m = int(alive[j]), float(dist[j])
        speed = launcher.interceptor_speed_mps
        max_flight_s = 1.2 * launcher.max_range_m / speed
        if self.external is not None and self._fly_at_external(
            e, missile, lpos, est, nearest_m, max_flight_s, launcher
        ):
            return
        t_hit: float | None = None
        if target >= 0:
            starts, points, vels = self.paths.legs(target)
            t_hit = path_intercept_time(
                lpos, t0, speed, starts, points, vels, float(self.paths.end_s[target])
            )
            if t_hit is not None and t_hit - t0 > max_flight_s:
                t_hit = None
        if t_hit is None:
            # No solution: fly to the ordered estimate's direction and self-destruct.
            t_end = t0 + max_flight_s
            point = est
            target_id = self.object_ids[target] if target >= 0 else ""
        else:
            t_end = t_hit
            point = self.paths.state_of(target, t_hit)[:3]
            target_id = self.object_ids[target]
        p3 = (float(point[0]), float(point[1]), float(point[2]))
        self.publish("flyout", m.Flyout(missile, e.order_id, e.launcher_id, target_id, t0, t_end, p3))
        self._at(t_end, self._detonate, missile, e.order_id, target, t_hit is not None, launcher.pk, p3)

    def _fly_at_external(
        self,
        e: m.EngagementStatus,
        missile: str,
        lpos: npt.NDArray[np.float64],
        est: npt.NDArray[np.float64],
        nearest_m: float,
        max_flight_s: float,
        launcher: Launcher,
    ) -> bool:
        """Fly ``missile`` at the external object nearest the ordered estimate, if one is nearer
        than the nearest scenario object (``nearest_m``) and inside the seeker gate. An external
        object's future is unknown: the intercept is solved on its present course."""
        t0 = self.now
        ext = self._external_now(t0)
        if not len(ext):
            return False
        d = ext.state[:, :3] - est
        dist = detmath.norm3(d[:, 0], d[:, 1], d[:, 2])
        j = int(np.argmin(dist))
        if not (dist[j] <= SEEKER_GATE_M and dist[j] < nearest_m):
            return False
        pos, vel = ext.state[j, :3], ext.state[j, 3:]
        speed = launcher.interceptor_speed_mps
        t_hit = path_intercept_time(
            lpos, t0, speed, np.array([t0]), pos[None, :], vel[None, :], t0 + max_flight_s
        )
        t_end = t0 + max_flight_s if t_hit is None else t_hit
        point = est if t_hit is None else pos + vel * (t_hit - t0)
        p3 = (float(point[0]), float(point[1]), float(point[2]))
        oid = ext.object_id[j]
        self.publish("flyout", m.Flyout(missile, e.order_id, e.launcher_id, oid, t0, t_end, p3))
        self._at(t_end, self._detonate_external, missile, e.order_id, oid, t_hit is not None, launcher.pk, p3)
        return True

    def _detonate_external(
        self,
        missile: str,
        order_id: str,
        oid: str,
        reached: bool,
        pk: float,
        point: tuple[float, float, float],
    ) -> None:
        draw = float(self.rng.random())
        live = oid in self._external_now(self.now).object_id
        kill = reached and live and draw < pk
        if kill:
            self._end_external(oid, m.ObjectStatus.KILLED)
        outcome = m.DetonationOutcome.KILL if kill else m.DetonationOutcome.MISS
        self.publish("detonation", m.Detonation(missile, order_id, oid, "", outcome, point))

    def _detonate(
        self,
        missile: str,
        order_id: str,
        target: int,
        reached: bool,
        pk: float,
        point: tuple[float, float, float],
    ) -> None:
        # One draw per interceptor, always, so outcomes do not shift other draws.
        draw = float(self.rng.random())
        kill = reached and target >= 0 and self._is_alive(target, self.now) and draw < pk
        if kill:
            self._end(target, m.ObjectStatus.KILLED)
        self.publish(
            "detonation",
            m.Detonation(
                interceptor_id=missile,
                order_id=order_id,
                object_id=self.object_ids[target] if target >= 0 else "",
                asset_id="",
                outcome=m.DetonationOutcome.KILL if kill else m.DetonationOutcome.MISS,
                position_m=point,
            ),
        )

    # ------------------------------------------------------------ lifecycle

    def setup(self) -> None:
        self.on(self.topics.any("launcher", "engagement"), self._on_engagement)
        self._schedule_leaks()
        self.every(self.truth_period_s, self._publish_truth)
