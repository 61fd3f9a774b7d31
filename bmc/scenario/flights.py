"""Flight plans: every air object of a scenario with its path in the local frame (raids expanded)."""

from __future__ import annotations

import numpy as np

from bmc.engine import detmath
from bmc.scenario.models import KIND_DEFAULTS, Model, Scenario, ThreatKind


class FlightPlan(Model):
    """A resolved flight path in ENU: what the world flies."""

    id: str
    kind: ThreatKind
    friendly: bool
    iff: bool
    rcs_m2: float
    start_s: float
    points_m: list[tuple[float, float, float]]
    speeds_mps: list[float]
    """Speed of each leg (len(points_m) - 1)."""
    target: str | None


def flight_plans(s: Scenario, rng: np.random.Generator) -> list[FlightPlan]:
    """Every air object of ``s`` with its ENU path; raids are expanded with ``rng``."""
    assets = {a.id: s.enu(a.position) for a in s.assets}
    plans: list[FlightPlan] = []
    for t in s.threats:
        rcs, speed = KIND_DEFAULTS[t.kind]
        speed = t.speed_mps or speed
        pts = [s.enu(w.position) for w in t.waypoints]
        speeds = [w.speed_mps or speed for w in t.waypoints[1:]]
        if t.target is not None:
            ae, an, _ = assets[t.target]
            pts.append((ae, an, 0.0))
            speeds.append(speed)
        plans.append(
            FlightPlan(
                id=t.id,
                kind=t.kind,
                friendly=t.friendly,
                iff=t.friendly if t.iff is None else t.iff,
                rcs_m2=t.rcs_m2 or rcs,
                start_s=t.start_s,
                points_m=pts,
                speeds_mps=speeds,
                target=t.target,
            )
        )
    for r in s.raids:
        rcs, speed = KIND_DEFAULTS[r.kind]
        ae, an, _ = assets[r.target]
        offsets = rng.uniform(-r.spread_deg / 2, r.spread_deg / 2, size=r.count)
        # The platform's sin and cos may differ in the last bit from machine to machine.
        sin_b, cos_b = detmath.sin_cos(np.radians(r.bearing_deg + offsets))
        for k in range(r.count):
            start = (ae + r.range_m * float(sin_b[k]), an + r.range_m * float(cos_b[k]), r.altitude_m)
            points = [start]
            if r.range_m > r.dive_range_m > 0:
                f = r.dive_range_m / r.range_m
                points.append((ae + (start[0] - ae) * f, an + (start[1] - an) * f, r.altitude_m))
            points.append((ae, an, 0.0))
            plans.append(
                FlightPlan(
                    id=f"{r.id}-{k + 1:03d}",
                    kind=r.kind,
                    friendly=False,
                    iff=False,
                    rcs_m2=r.rcs_m2 or rcs,
                    start_s=r.start_s + k * r.spacing_s,
                    points_m=points,
                    speeds_mps=[r.speed_mps or speed] * (len(points) - 1),
                    target=r.target,
                )
            )
    return plans
