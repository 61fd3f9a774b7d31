"""Doctrine and weapons control: who may be engaged, with how many rounds. Pure.

Identification: a track a radar reports with a valid IFF reply is a FRIEND,
for good. Otherwise it stays PENDING for ``identification_time_s`` after it
was first seen (time for the interrogator to get replies), then becomes
HOSTILE when its kinematics classify it as a weapon (drone, cruise missile)
and UNKNOWN otherwise. Weapons FREE engages threatening HOSTILE and UNKNOWN
tracks, TIGHT only HOSTILE ones, HOLD none. Friends are never engaged.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from protocols.messages import Classification, Identity, WeaponsControl

WEAPON_CLASSES = (Classification.DRONE, Classification.CRUISE_MISSILE)

# Plain ints, compared one by one: np.isin costs tens of microseconds on small arrays.
_WEAPON_CLASSES = tuple(int(c) for c in WEAPON_CLASSES)
_HOSTILE, _UNKNOWN, _PENDING, _FRIEND = (
    int(Identity.HOSTILE),
    int(Identity.UNKNOWN),
    int(Identity.PENDING),
    int(Identity.FRIEND),
)


def identify(
    friend: npt.NDArray[np.bool_],
    classification: npt.NDArray[np.int64],
    held_s: npt.NDArray[np.float64],
    identification_time_s: float,
) -> npt.NDArray[np.int64]:
    """Identity of every track (see module docstring)."""
    ident = np.full(classification.shape, _UNKNOWN, dtype=np.int64)
    for c in _WEAPON_CLASSES:
        ident[classification == c] = _HOSTILE
    ident[held_s < identification_time_s] = _PENDING
    ident[np.asarray(friend, dtype=bool)] = _FRIEND
    return ident


def engageable(identity: npt.NDArray[np.int64], weapons_control: WeaponsControl) -> npt.NDArray[np.bool_]:
    """Tracks the weapons control status allows to be engaged."""
    if weapons_control == WeaponsControl.HOLD:
        return np.zeros(identity.shape, dtype=bool)
    allowed: npt.NDArray[np.bool_] = identity == _HOSTILE
    if weapons_control == WeaponsControl.FREE:
        allowed |= identity == _UNKNOWN
    return allowed


def salvo_kill_probability(pk: npt.NDArray[np.float64] | float, rounds: int) -> npt.NDArray[np.float64]:
    """Probability that at least one of ``rounds`` independent shots kills."""
    miss = 1.0 - np.asarray(pk, dtype=float)
    # Repeated products, not ``**``: numpy's power takes CPU-specific paths.
    all_miss = np.ones_like(miss)
    for _ in range(rounds):
        all_miss = all_miss * miss
    return np.asarray(1.0 - all_miss)
