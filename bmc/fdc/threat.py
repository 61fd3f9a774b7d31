"""Threat evaluation: which tracks threaten which asset, how soon, how much. Pure numpy.

A track threatens an asset when its ground track, flown on at its current
velocity, passes within the asset's radius. Its time to the asset is the
time until it crosses that radius (0 when already inside). Priority weighs
the asset's value against that time: ``value / (time_to_asset_s + horizon_s)``,
so a near threat to a modest asset can outrank a far threat to a valuable one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Assessment:
    """Per track: the asset it threatens most, when it gets there, its priority."""

    threatening: npt.NDArray[np.bool_]
    asset_index: npt.NDArray[np.int64]
    """Index into the assets, -1 when not threatening."""
    time_to_asset_s: FloatArray
    """inf when not threatening."""
    priority: FloatArray
    """0 when not threatening; larger is more urgent."""


def _ground_terms(
    position_m: FloatArray, velocity_mps: FloatArray, centre_m: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """|v|^2 (1, N), d.v (A, N) and |d|^2 (A, N) on the ground plane, d = track - asset centre.

    Laid out asset by asset (A, N): every operation then runs over N contiguous
    values, not N rows of A, which costs far less per numpy call at A of a few.
    """
    vx, vy = velocity_mps[:, 0], velocity_mps[:, 1]
    dx = position_m[:, 0] - centre_m[:, 0:1]
    dy = position_m[:, 1] - centre_m[:, 1:2]
    return (vx * vx + vy * vy)[None, :], dx * vx + dy * vy, dx * dx + dy * dy


def _entry_time(vv: FloatArray, dv: FloatArray, dd: FloatArray, radius_m: FloatArray) -> FloatArray:
    """(A, N) time until the ground track enters the radius; inf if never (see time_to_radius)."""
    a = vv
    b = 2.0 * dv
    c = dd - radius_m[:, None] * radius_m[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = b * b - 4 * a * c
        t = (-b - np.sqrt(np.where(disc >= 0, disc, np.nan))) / (2 * a)
    t = np.where(np.isfinite(t) & (t >= 0), t, np.inf)
    return np.where(c <= 0, 0.0, t)


def time_to_radius(
    position_m: FloatArray, velocity_mps: FloatArray, centre_m: FloatArray, radius_m: FloatArray
) -> FloatArray:
    """(N, A) time until each track's ground track enters each asset's radius; inf if never."""
    return _entry_time(*_ground_terms(position_m, velocity_mps, centre_m), radius_m).T


def assess(
    position_m: FloatArray,
    velocity_mps: FloatArray,
    asset_centre_m: FloatArray,
    asset_radius_m: FloatArray,
    asset_value: FloatArray,
    horizon_s: float = 30.0,
    margin_m: float = 0.0,
) -> Assessment:
    """Rank N tracks against A assets (see module docstring).

    ``margin_m`` widens the radius for deciding *whether* a track threatens (noisy
    headings), not for *when*: time to asset stays the time to the asset's own radius
    (or to the closest approach, for a track passing inside the margin only), so a
    threat already inside the margin keeps a real deadline and can be engaged again.
    """
    n = position_m.shape[0]
    if n == 0 or asset_centre_m.shape[0] == 0:
        return Assessment(np.zeros(n, bool), np.full(n, -1, np.int64), np.full(n, np.inf), np.zeros(n))
    vv, dv, dd = _ground_terms(position_m, velocity_mps, asset_centre_m)
    tta = _entry_time(vv, dv, dd, asset_radius_m)
    if margin_m > 0:
        outer = _entry_time(vv, dv, dd, asset_radius_m + margin_m)
        with np.errstate(divide="ignore", invalid="ignore"):
            cpa = np.maximum(-dv / vv, 0.0)
        tta = np.where(np.isfinite(outer) & ~np.isfinite(tta), np.where(np.isfinite(cpa), cpa, 0.0), tta)
    score = np.where(np.isfinite(tta), asset_value[:, None] / (tta + horizon_s), 0.0)
    best = np.argmax(score, axis=0)
    cols = np.arange(n)
    priority = score[best, cols]
    threatening = priority > 0
    return Assessment(
        threatening=threatening,
        asset_index=np.where(threatening, best, -1).astype(np.int64),
        time_to_asset_s=np.where(threatening, tta[best, cols], np.inf),
        priority=priority,
    )
