"""Intercept geometry: predicted intercept point, time of flight. Pure numpy.

Interceptors are modelled as flying a straight line at a constant mean speed
from the launcher to the intercept point (a good first-order model of a
lead-pursuit flyout; the mean speed absorbs boost and coast).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bmc.engine import detmath

Array = npt.NDArray[np.float64]


def time_to_go(
    relative_position_m: Array, target_velocity_mps: Array, interceptor_speed_mps: Array | float
) -> Array:
    """Flight time for an interceptor leaving the origin to meet a constant-velocity target.

    ``relative_position_m`` is the target minus the launcher at launch (..., 3);
    returns the smallest positive root of |d + v t| = s t, ``inf`` where the
    interceptor cannot catch the target. Broadcasts over leading dimensions.
    """
    d = relative_position_m
    v = target_velocity_mps
    s = np.asarray(interceptor_speed_mps, dtype=float)
    a = detmath.dot3(v, v) - s * s
    b = 2.0 * detmath.dot3(d, v)
    c = detmath.dot3(d, d)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        disc = b * b - 4.0 * a * c
        sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
        # Numerically stable roots (no cancellation when |a| is tiny); with
        # a == 0 the second root is the linear solution -c/b.
        q = -0.5 * (b + np.where(b >= 0, sq, -sq))
        r1 = q / a
        r2 = c / q
    r1 = np.where(np.isfinite(r1) & (r1 > 0), r1, np.inf)
    r2 = np.where(np.isfinite(r2) & (r2 > 0), r2, np.inf)
    t = np.minimum(r1, r2)
    return np.where(c == 0, 0.0, t)


def predict_intercept(
    target_position_m: Array,
    target_velocity_mps: Array,
    launcher_position_m: Array,
    interceptor_speed_mps: Array | float,
    reaction_time_s: Array | float,
) -> tuple[Array, Array]:
    """Predicted intercept point and time from now, for every target-launcher pair.

    Targets (N, 3) against launchers (L, 3): returns (pip (N, L, 3), time (N, L))
    where time counts from now and includes the launcher's reaction time;
    ``inf`` time (and a nan point) where no intercept exists.
    """
    p = (
        target_position_m[:, None, :]
        + target_velocity_mps[:, None, :] * np.asarray(reaction_time_s)[..., None]
    )
    d = p - launcher_position_m[None, :, :]
    v = np.broadcast_to(target_velocity_mps[:, None, :], d.shape)
    tgo = time_to_go(d, v, interceptor_speed_mps)
    with np.errstate(invalid="ignore"):
        pip = p + v * tgo[..., None]
    pip = np.where(np.isfinite(tgo)[..., None], pip, np.nan)
    return pip, tgo + np.asarray(reaction_time_s)


def in_envelope(
    pip_m: Array,
    launcher_position_m: Array,
    min_range_m: Array | float,
    max_range_m: Array | float,
    min_altitude_m: Array | float,
    max_altitude_m: Array | float,
) -> npt.NDArray[np.bool_]:
    """True where the intercept point lies inside the launcher's envelope.

    Range is slant range from the launcher; altitude is the point's up
    coordinate. ``pip_m`` (..., L, 3) against launchers (L, 3).
    """
    with np.errstate(invalid="ignore"):
        offset = pip_m - launcher_position_m
        rng = np.sqrt(detmath.dot3(offset, offset))
        alt = pip_m[..., 2]
        ok = (rng >= min_range_m) & (rng <= max_range_m) & (alt >= min_altitude_m) & (alt <= max_altitude_m)
    return np.asarray(ok & np.isfinite(rng))


def path_intercept_time(
    launch_position_m: Array,
    launch_time_s: float,
    interceptor_speed_mps: float,
    leg_start_s: Array,
    leg_start_m: Array,
    leg_velocity_mps: Array,
    end_s: float,
) -> float | None:
    """Earliest time an interceptor launched at ``launch_time_s`` meets a target on a
    piecewise-linear path, or None before ``end_s``.

    Leg k starts at ``leg_start_s[k]`` at ``leg_start_m[k]`` and moves with
    ``leg_velocity_mps[k]`` until the next leg starts (the last leg until
    ``end_s``). The interceptor reaches any point within s*(t - t0) of the
    launcher at time t, so the first meeting is the first root of
    |p(t) - L| = s (t - t0) after launch.
    """
    s = interceptor_speed_mps
    n = len(leg_start_s)
    for k in range(n):
        a_t = max(float(leg_start_s[k]), launch_time_s)
        b_t = float(leg_start_s[k + 1]) if k + 1 < n else end_s
        if b_t < a_t:
            continue
        # p(t) = q + v u with u = t - a_t; solve |q - L + v u|^2 = s^2 (u + a_t - t0)^2 on the leg
        v = leg_velocity_mps[k]
        q = leg_start_m[k] + v * (a_t - float(leg_start_s[k]))
        d = q - launch_position_m
        w = a_t - launch_time_s
        qa = float(detmath.dot3(v, v)) - s * s
        qb = 2.0 * float(detmath.dot3(d, v)) - 2.0 * s * s * w
        qc = float(detmath.dot3(d, d)) - s * s * w * w
        if qc <= 0:  # already within reach at the leg start
            return a_t
        roots: list[float] = []
        disc = qb * qb - 4 * qa * qc
        if disc >= 0:
            # Stable roots, as in time_to_go: no cancellation when |v| is close to s.
            sq = float(np.sqrt(disc))
            q = -0.5 * (qb + (sq if qb >= 0 else -sq))
            if q != 0:
                roots.append(qc / q)
            if qa != 0:
                roots.append(q / qa)
        valid = [u for u in roots if 0 <= u <= b_t - a_t]
        if valid:
            return a_t + min(valid)
    return None
