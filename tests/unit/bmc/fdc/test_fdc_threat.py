"""Threat evaluation (bmc/fdc/threat.py): who threatens which asset, and when."""

from __future__ import annotations

import numpy as np
import pytest

from bmc.fdc import threat


def assess_one(
    pos: list[float], vel: list[float], centres: list[list[float]], radii: list[float], values: list[float]
) -> threat.Assessment:
    return threat.assess(
        np.array([pos], dtype=float),
        np.array([vel], dtype=float),
        np.array(centres, dtype=float),
        np.array(radii, dtype=float),
        np.array(values, dtype=float),
    )


@pytest.mark.parametrize(("speed", "distance", "radius"), [(200.0, 10_000.0, 2000.0), (50.0, 3000.0, 500.0)])
def test_track_flying_straight_at_asset(speed: float, distance: float, radius: float) -> None:
    a = assess_one([distance, 0.0, 1000.0], [-speed, 0.0, 0.0], [[0.0, 0.0, 0.0]], [radius], [2.0])
    assert a.threatening.tolist() == [True]
    assert a.asset_index.tolist() == [0]
    assert a.time_to_asset_s[0] == pytest.approx((distance - radius) / speed, rel=1e-12)
    assert a.priority[0] == pytest.approx(2.0 / ((distance - radius) / speed + 30.0))


def test_diagonal_approach_to_offset_asset() -> None:
    centre = np.array([5000.0, -3000.0, 0.0])
    direction = np.array([3.0, 4.0, 0.0]) / 5.0
    start = centre + 20_000.0 * direction
    a = assess_one(list(start), list(-300.0 * direction), [list(centre)], [1000.0], [1.0])
    assert a.time_to_asset_s[0] == pytest.approx(19_000.0 / 300.0)


def test_track_flying_away_is_not_threatening() -> None:
    a = assess_one([10_000.0, 0.0, 1000.0], [200.0, 0.0, 0.0], [[0.0, 0.0, 0.0]], [2000.0], [5.0])
    assert a.threatening.tolist() == [False]
    assert a.asset_index.tolist() == [-1]
    assert a.time_to_asset_s.tolist() == [np.inf]
    assert a.priority.tolist() == [0.0]


def test_track_passing_by_is_not_threatening() -> None:
    # Flies west along y = 3000 past an asset of radius 2000.
    a = assess_one([10_000.0, 3000.0, 1000.0], [-200.0, 0.0, 0.0], [[0.0, 0.0, 0.0]], [2000.0], [5.0])
    assert not a.threatening[0]
    # ... but within a radius of 3500 it threatens: it enters where x = sqrt(3500^2 - 3000^2).
    b = assess_one([10_000.0, 3000.0, 1000.0], [-200.0, 0.0, 0.0], [[0.0, 0.0, 0.0]], [3500.0], [5.0])
    assert b.time_to_asset_s[0] == pytest.approx((10_000.0 - np.sqrt(3500.0**2 - 3000.0**2)) / 200.0)


def test_stationary_track_outside_radius_is_not_threatening() -> None:
    a = assess_one([10_000.0, 0.0, 0.0], [0.0, 0.0, 0.0], [[0.0, 0.0, 0.0]], [2000.0], [5.0])
    assert not a.threatening[0]


def test_inside_radius_time_is_zero() -> None:
    for vel in ([200.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-50.0, 10.0, 5.0]):
        a = assess_one([500.0, 200.0, 3000.0], vel, [[0.0, 0.0, 0.0]], [2000.0], [4.0])
        assert a.threatening.tolist() == [True]
        assert a.time_to_asset_s.tolist() == [0.0]
        assert a.priority[0] == pytest.approx(4.0 / 30.0)


def test_altitude_does_not_matter() -> None:
    low = assess_one([10_000.0, 0.0, 10.0], [-200.0, 0.0, 0.0], [[0.0, 0.0, 0.0]], [2000.0], [1.0])
    high = assess_one([10_000.0, 0.0, 9000.0], [-200.0, 0.0, -5.0], [[0.0, 0.0, 0.0]], [2000.0], [1.0])
    assert low.time_to_asset_s[0] == high.time_to_asset_s[0] == pytest.approx(40.0)


def test_higher_value_asset_wins_when_times_equal() -> None:
    # Flying north between two assets placed symmetrically: equal times to both.
    centres = [[-500.0, 10_000.0, 0.0], [500.0, 10_000.0, 0.0]]
    for values, best in (([1.0, 5.0], 1), ([5.0, 1.0], 0)):
        a = assess_one([0.0, 0.0, 1000.0], [0.0, 100.0, 0.0], centres, [1000.0, 1000.0], values)
        assert a.asset_index.tolist() == [best]
        assert a.priority[0] == pytest.approx(5.0 / (a.time_to_asset_s[0] + 30.0))


def test_near_modest_asset_outranks_far_valuable_one() -> None:
    # 9.5 s to a value-1 asset versus 190 s to a value-5 asset: 1/39.5 > 5/220.
    centres = [[-2000.0, 0.0, 0.0], [-39_000.0, 0.0, 0.0]]
    a = assess_one([0.0, 0.0, 0.0], [-200.0, 0.0, 0.0], centres, [100.0, 1000.0], [1.0, 5.0])
    assert a.asset_index.tolist() == [0]
    np.testing.assert_allclose(a.time_to_asset_s, [9.5])
    # Closer to the valuable asset, it wins.
    b = assess_one(
        [-30_000.0, 0.0, 0.0],
        [-200.0, 0.0, 0.0],
        [[-2000.0, 0.0, 0.0], [-39_000.0, 0.0, 0.0]],
        [100.0, 1000.0],
        [1.0, 5.0],
    )
    assert b.asset_index.tolist() == [1]


def test_assess_vectorised_and_empty() -> None:
    pos = np.array([[10_000.0, 0.0, 0.0], [10_000.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    vel = np.array([[-100.0, 0.0, 0.0], [100.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    a = threat.assess(pos, vel, np.zeros((1, 3)), np.array([1000.0]), np.array([1.0]))
    assert a.threatening.tolist() == [True, False, True]
    np.testing.assert_allclose(a.time_to_asset_s, [90.0, np.inf, 0.0])
    empty = threat.assess(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((1, 3)), np.ones(1), np.ones(1))
    assert empty.threatening.shape == (0,)
    no_assets = threat.assess(pos, vel, np.zeros((0, 3)), np.zeros(0), np.zeros(0))
    assert no_assets.threatening.tolist() == [False] * 3
    assert no_assets.asset_index.tolist() == [-1] * 3


def test_margin_decides_whether_not_when() -> None:
    # 1500 m out, inbound at 100 m/s, radius 300 m, margin 2000 m: threatening, and the
    # deadline is the time to the real radius (12 s), not 0 (inside the widened one).
    from bmc.fdc.threat import assess

    a = assess(
        np.array([[1500.0, 0.0, 100.0]]),
        np.array([[-100.0, 0.0, 0.0]]),
        np.array([[0.0, 0.0, 0.0]]),
        np.array([300.0]),
        np.array([1.0]),
        margin_m=2000.0,
    )
    assert a.threatening.tolist() == [True]
    assert a.time_to_asset_s[0] == pytest.approx(12.0)


def test_margin_only_pass_gets_the_closest_approach_as_deadline() -> None:
    from bmc.fdc.threat import assess

    # Passes 1 km abeam of a 300 m asset: only the 2 km margin makes it a threat; CPA at 50 s.
    a = assess(
        np.array([[5000.0, 1000.0, 100.0]]),
        np.array([[-100.0, 0.0, 0.0]]),
        np.array([[0.0, 0.0, 0.0]]),
        np.array([300.0]),
        np.array([1.0]),
        margin_m=2000.0,
    )
    assert a.threatening.tolist() == [True]
    assert a.time_to_asset_s[0] == pytest.approx(50.0)
