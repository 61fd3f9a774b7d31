"""Doctrine (bmc/fdc/doctrine.py): identification, weapons control, salvo kill probability."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmc.fdc import doctrine
from protocols.messages import Classification, Identity, WeaponsControl


def ident(friend: list[bool], cls: list[Classification], held: list[float], t_id: float = 4.0) -> list[int]:
    out = doctrine.identify(
        np.array(friend, dtype=bool), np.array([int(c) for c in cls], dtype=np.int64), np.array(held), t_id
    )
    assert out.dtype == np.int64
    return [int(x) for x in out]


def test_friend_wins_over_everything() -> None:
    got = ident(
        [True, True, True],
        [Classification.DRONE, Classification.CRUISE_MISSILE, Classification.FIGHTER],
        [0.0, 10.0, 1.0],
    )
    assert got == [Identity.FRIEND] * 3


def test_pending_before_identification_time() -> None:
    got = ident(
        [False] * 3, [Classification.DRONE, Classification.FIGHTER, Classification.DRONE], [0.0, 3.99, 4.0]
    )
    assert got == [Identity.PENDING, Identity.PENDING, Identity.HOSTILE]


@pytest.mark.parametrize("cls", list(Classification))
def test_identification_by_class(cls: Classification) -> None:
    expected = (
        Identity.HOSTILE if cls in (Classification.DRONE, Classification.CRUISE_MISSILE) else Identity.UNKNOWN
    )
    assert ident([False], [cls], [10.0]) == [expected]


def test_zero_identification_time_never_pending() -> None:
    assert ident([False], [Classification.TRANSPORT], [0.0], t_id=0.0) == [Identity.UNKNOWN]


@pytest.mark.parametrize(
    ("wcs", "allowed"),
    [
        (WeaponsControl.FREE, {Identity.HOSTILE, Identity.UNKNOWN}),
        (WeaponsControl.TIGHT, {Identity.HOSTILE}),
        (WeaponsControl.HOLD, set()),
    ],
)
def test_engageable(wcs: WeaponsControl, allowed: set[Identity]) -> None:
    ids = np.array([int(i) for i in Identity], dtype=np.int64)
    got = doctrine.engageable(ids, wcs)
    assert got.dtype == np.bool_
    assert {Identity(int(i)) for i, ok in zip(ids, got, strict=True) if ok} == allowed
    # Never friends or pending tracks, whatever the status.
    assert not got[ids == Identity.FRIEND].any()
    assert not got[ids == Identity.PENDING].any()


def test_engageable_empty() -> None:
    assert doctrine.engageable(np.zeros(0, dtype=np.int64), WeaponsControl.FREE).shape == (0,)


@settings(max_examples=100, deadline=None)
@given(p=st.floats(0.0, 1.0))
def test_salvo_kill_probability(p: float) -> None:
    two = float(doctrine.salvo_kill_probability(p, 2))
    assert two == pytest.approx(1.0 - (1.0 - p) ** 2)
    assert float(doctrine.salvo_kill_probability(p, 1)) == pytest.approx(p)
    assert p - 1e-12 <= two <= 1.0 + 1e-12


def test_salvo_kill_probability_vectorised() -> None:
    got = doctrine.salvo_kill_probability(np.array([0.0, 0.5, 0.8, 1.0]), 2)
    np.testing.assert_allclose(got, [0.0, 0.75, 0.96, 1.0])
    assert float(doctrine.salvo_kill_probability(0.7, 0)) == 0.0
