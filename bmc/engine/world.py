"""Truth: air objects on waypoint paths, interceptor flyouts, outcomes.

Paths are piecewise linear at constant speed per leg and evaluated
analytically at any time. The world publishes a truth report every
``truth_period_s``, a flyout for every interceptor a launcher reports
launched, and a detonation for every outcome: kill, miss, or a hostile
reaching a defended asset.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

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

SEEKER_GATE_M = 3_000.0
"""An interceptor's seeker locks the live object nearest the ordered target
estimate if it is within this distance; otherwise it flies to the predicted
point and self-destructs."""


@dataclass(frozen=True, slots=True)
class AssetZone:
    """A defended asset as the world sees it."""

    id: str
    east_m: float
    north_m: float
    radius_m: float


class Paths:
    """Vectorised piecewise-linear paths of N objects (legs padded to the longest)."""

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
                dist = float(np.linalg.norm(delta))
                dur = dist / speed
                self.leg_start_s[i, k] = t
                self.leg_start_m[i, k] = pts[k]
                self.leg_velocity[i, k] = delta / dur if dur > 0 else 0.0
                t += dur
            self.start_s[i] = p.start_s
            self.end_s[i] = t
            self.end_m[i] = pts[-1]
        self.n = n

    def state_at(self, t: float) -> npt.NDArray[np.float64]:
        """(N, 6) position and velocity of every object at time ``t`` (end point after the end)."""
        k = np.maximum((self.leg_start_s <= t).sum(axis=1) - 1, 0)
        idx = np.arange(self.n)
        v = self.leg_velocity[idx, k]
        dt = np.maximum(t - self.leg_start_s[idx, k], 0.0)
        dt = np.where(np.isfinite(dt), dt, 0.0)
        pos = self.leg_start_m[idx, k] + v * dt[:, None]
        done = t >= self.end_s
        pos[done] = self.end_m[done]
        v = np.where(done[:, None], 0.0, v)
        before = t < self.start_s
        pos[before] = self.leg_start_m[before, 0]
        v = np.where(before[:, None], 0.0, v)
        return np.hstack([pos, v])

    def state_of(self, i: int, t: float) -> npt.NDArray[np.float64]:
        """(6,) position and velocity of object ``i`` alone at time ``t``."""
        if t < self.start_s[i]:
            return np.concatenate([self.leg_start_m[i, 0], np.zeros(3)])
        if t >= self.end_s[i]:
            return np.concatenate([self.end_m[i], np.zeros(3)])
        k = max(int(np.searchsorted(self.leg_start_s[i], t, side="right")) - 1, 0)
        v = self.leg_velocity[i, k]
        return np.concatenate([self.leg_start_m[i, k] + v * (t - self.leg_start_s[i, k]), v])

    def legs(
        self, i: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Leg start times, start points and velocities of object ``i``."""
        valid = np.isfinite(self.leg_start_s[i])
        return self.leg_start_s[i, valid], self.leg_start_m[i, valid], self.leg_velocity[i, valid]


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
        qa, qb, qc = float(v @ v), 2 * float(d @ v), float(d @ d) - radius_m**2
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
    ) -> None:
        super().__init__("world", env, bus, topics, rng)
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
        self.interceptors = 0
        self.flown: set[str] = set()
        """Interceptor ids already flying or flown."""

    # ------------------------------------------------------------ truth

    def state(self, t: float) -> npt.NDArray[np.float64]:
        """(N, 6) truth state at ``t``; killed and leaked objects stay where they ended."""
        st = self.paths.state_at(t)
        done = (self.status == m.ObjectStatus.KILLED) | (self.status == m.ObjectStatus.LEAKED)
        st[done] = self.frozen_state[done]
        return st

    def _refresh_status(self, t: float) -> None:
        live = (self.status == m.ObjectStatus.PENDING) | (self.status == m.ObjectStatus.ACTIVE)
        self.status[live & (t >= self.paths.start_s)] = m.ObjectStatus.ACTIVE
        self.status[live & (t >= self.paths.end_s)] = m.ObjectStatus.LANDED

    def _publish_truth(self) -> None:
        t = self.now
        self._refresh_status(t)
        self.publish(
            "truth",
            m.TruthReport(
                object_id=self.object_ids,
                kind=self.kind_col,
                friendly=self.friendly,
                iff=self.iff,
                rcs_m2=self.rcs,
                status=self.status.copy(),
                state=self.state(t),
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

    def _leak(self, i: int, asset: AssetZone) -> None:
        if self.status[i] in (m.ObjectStatus.KILLED, m.ObjectStatus.LEAKED):
            return
        self._end(i, m.ObjectStatus.LEAKED)
        pos = self.frozen_state[i, :3]
        self.publish(
            "detonation",
            m.Detonation(
                interceptor_id="",
                order_id="",
                object_id=self.object_ids[i],
                asset_id=asset.id,
                outcome=m.DetonationOutcome.ASSET_HIT,
                position_m=(float(pos[0]), float(pos[1]), float(pos[2])),
            ),
        )

    # ------------------------------------------------------------ interceptors

    def _alive(self, t: float) -> npt.NDArray[np.bool_]:
        self._refresh_status(t)
        return np.asarray(self.status == m.ObjectStatus.ACTIVE)

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
        alive = self._alive(t0)
        truth = self.state(t0)
        target = -1
        if alive.any():
            dist = np.where(alive, np.linalg.norm(truth[:, :3] - est, axis=1), np.inf)
            j = int(np.argmin(dist))
            if dist[j] <= SEEKER_GATE_M:
                target = j
        speed = launcher.interceptor_speed_mps
        max_flight_s = 1.2 * launcher.max_range_m / speed
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
        kill = reached and target >= 0 and self._alive(self.now)[target] and draw < pk
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
