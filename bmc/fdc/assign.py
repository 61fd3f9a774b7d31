"""Weapon-target assignment over feasible pairs. Pure numpy/scipy.

A pair (track, launcher) is feasible when the predicted intercept point lies
inside the launcher's envelope, the intercept happens before the threat
reaches its asset, and the launcher is available with enough missiles. Among
feasible pairs the assignment maximises the sum of ``priority * pk`` with one
target per launcher and one launcher per target per cycle, solved exactly by
:func:`scipy.optimize.linear_sum_assignment` (Hungarian/Jonker-Volgenant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from launchers.intercept import in_envelope, predict_intercept

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FireUnits:
    """Launcher parameters as columns of length L."""

    position_m: FloatArray
    interceptor_speed_mps: FloatArray
    reaction_time_s: FloatArray
    min_range_m: FloatArray
    max_range_m: FloatArray
    min_altitude_m: FloatArray
    max_altitude_m: FloatArray
    pk: FloatArray

    def __len__(self) -> int:
        return int(self.position_m.shape[0])

    def take(self, index: npt.NDArray[np.int64]) -> FireUnits:
        """The launchers at ``index``, in that order."""
        return FireUnits(
            position_m=self.position_m[index],
            interceptor_speed_mps=self.interceptor_speed_mps[index],
            reaction_time_s=self.reaction_time_s[index],
            min_range_m=self.min_range_m[index],
            max_range_m=self.max_range_m[index],
            min_altitude_m=self.min_altitude_m[index],
            max_altitude_m=self.max_altitude_m[index],
            pk=self.pk[index],
        )


@dataclass(frozen=True, slots=True)
class Pairing:
    """Feasibility of every (track, launcher) pair: arrays of shape (N, L)."""

    feasible: npt.NDArray[np.bool_]
    intercept_point_m: FloatArray
    """(N, L, 3)"""
    time_to_intercept_s: FloatArray
    """From now, reaction time included."""


def pair(
    position_m: FloatArray,
    velocity_mps: FloatArray,
    deadline_s: FloatArray,
    units: FireUnits,
    available: npt.NDArray[np.bool_],
) -> Pairing:
    """Feasibility of N tracks against L launchers.

    ``deadline_s`` (N,) is how long from now each intercept must happen by
    (time to asset); ``available`` (L,) masks launchers that can take an order.
    """
    pip, tti = predict_intercept(
        position_m, velocity_mps, units.position_m, units.interceptor_speed_mps, units.reaction_time_s
    )
    ok = in_envelope(
        pip,
        units.position_m,
        units.min_range_m,
        units.max_range_m,
        units.min_altitude_m,
        units.max_altitude_m,
    )
    ok &= np.isfinite(tti) & (tti <= deadline_s[:, None]) & available[None, :]
    return Pairing(ok, pip, tti)


def assign(value: FloatArray, feasible: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Pairs (track, launcher) maximising total ``value`` over feasible pairs.

    Rows and columns without any feasible pair are left out before solving,
    which keeps the problem small when most tracks are out of reach.
    """
    # logical_or.reduce, x.nonzero()[0] and indexing with rows[:, None] pick what any(),
    # np.flatnonzero and np.ix_ pick, without their Python-level overhead.
    rows = np.logical_or.reduce(feasible, axis=1).nonzero()[0]
    cols = np.logical_or.reduce(feasible, axis=0).nonzero()[0]
    if rows.size == 0 or cols.size == 0:
        return []
    sub_ok = feasible[rows[:, None], cols]
    sub = np.where(sub_ok, value[rows[:, None], cols], 0.0)
    r, c = linear_sum_assignment(sub, maximize=True)
    return [(int(rows[i]), int(cols[j])) for i, j in zip(r, c, strict=True) if sub_ok[i, j]]
