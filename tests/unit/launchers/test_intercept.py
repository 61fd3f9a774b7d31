"""Intercept geometry: closed forms, properties, shapes, envelope, piecewise paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from launchers.intercept import in_envelope, path_intercept_time, predict_intercept, time_to_go

PROPS = settings(max_examples=200, deadline=None)


def ttg(d: list[float], v: list[float], s: float) -> float:
    return float(time_to_go(np.array(d, dtype=float), np.array(v, dtype=float), s))


# ------------------------------------------------------------------ time_to_go closed forms


@pytest.mark.parametrize("d", [1.0, 1500.0, 40_000.0])
@pytest.mark.parametrize("s", [300.0, 1000.0])
def test_stationary_target(d: float, s: float) -> None:
    assert ttg([d, 0, 0], [0, 0, 0], s) == pytest.approx(d / s, rel=1e-12)
    assert ttg([0, -d, 0], [0, 0, 0], s) == pytest.approx(d / s, rel=1e-12)
    assert ttg([0, 0, d], [0, 0, 0], s) == pytest.approx(d / s, rel=1e-12)


@pytest.mark.parametrize(
    ("d", "u", "s"), [(10_000.0, 200.0, 1000.0), (5000.0, 990.0, 1000.0), (1.0, 0.5, 2.0)]
)
def test_target_flying_straight_away(d: float, u: float, s: float) -> None:
    assert ttg([d, 0, 0], [u, 0, 0], s) == pytest.approx(d / (s - u), rel=1e-9)
    # Same geometry in another direction.
    e = np.array([3.0, -4.0, 12.0]) / 13.0
    t = float(time_to_go(d * e, u * e, s))
    assert t == pytest.approx(d / (s - u), rel=1e-9)


@pytest.mark.parametrize(
    ("d", "u", "s"), [(10_000.0, 200.0, 1000.0), (5000.0, 3000.0, 1000.0), (1.0, 0.5, 2.0)]
)
def test_head_on(d: float, u: float, s: float) -> None:
    assert ttg([d, 0, 0], [-u, 0, 0], s) == pytest.approx(d / (s + u), rel=1e-9)


@pytest.mark.parametrize(("u", "s"), [(1200.0, 1000.0), (1000.0001, 1000.0), (5000.0, 100.0)])
def test_faster_target_flying_away_is_unreachable(u: float, s: float) -> None:
    assert ttg([10_000.0, 0, 0], [u, 0, 0], s) == math.inf


def test_equal_speed() -> None:
    # Away: never; head-on: they meet half way.
    assert ttg([1000.0, 0, 0], [500.0, 0, 0], 500.0) == math.inf
    assert ttg([1000.0, 0, 0], [-500.0, 0, 0], 500.0) == pytest.approx(1.0)


@pytest.mark.parametrize("rel", [1e-13, -1e-13, 1e-14])
def test_head_on_nearly_equal_speed_is_precise(rel: float) -> None:
    s, d = 1000.0, 10_000.0
    u = s * (1.0 + rel)
    assert ttg([d, 0, 0], [-u, 0, 0], s) == pytest.approx(d / (s + u), rel=1e-9)


def test_target_at_launcher() -> None:
    assert ttg([0, 0, 0], [100.0, 0, 0], 500.0) == 0.0
    assert ttg([0, 0, 0], [900.0, 0, 0], 500.0) == 0.0


def test_crossing_target() -> None:
    # Target 3 km north flying east at 400 m/s, interceptor 500 m/s: (400t)^2 + 3000^2 = (500t)^2 -> t = 10 s.
    assert ttg([0, 3000.0, 0], [400.0, 0, 0], 500.0) == pytest.approx(10.0, rel=1e-12)


def test_broadcasts_over_leading_dimensions() -> None:
    d = np.zeros((2, 3, 3))
    d[..., 0] = 1000.0
    v = np.zeros((2, 3, 3))
    s = np.array([100.0, 200.0, 500.0])
    t = time_to_go(d, v, s)
    assert t.shape == (2, 3)
    np.testing.assert_allclose(t, np.broadcast_to(1000.0 / s, (2, 3)))


coord = st.floats(-50_000.0, 50_000.0)
vel = st.floats(-1500.0, 1500.0)
speed = st.floats(50.0, 2000.0)


@PROPS
@given(d=st.tuples(coord, coord, coord), v=st.tuples(vel, vel, vel), s=speed)
def test_time_to_go_solves_the_meeting_equation(
    d: tuple[float, float, float], v: tuple[float, float, float], s: float
) -> None:
    dv = np.array(d)
    vv = np.array(v)
    assume(np.linalg.norm(dv) >= 1.0)
    t = float(time_to_go(dv, vv, s))
    if np.linalg.norm(vv) < s:
        assert math.isfinite(t)  # a slower target can always be caught
    if math.isfinite(t):
        assert t > 0
        # |d + v t| == s t, divided by t so that astronomically late meetings do not overflow.
        assert float(np.linalg.norm(dv / t + vv)) == pytest.approx(s, rel=1e-6)


@PROPS
@given(d=st.tuples(coord, coord, coord), v=st.tuples(vel, vel, vel), s=speed)
def test_time_to_go_is_the_earliest_meeting(
    d: tuple[float, float, float], v: tuple[float, float, float], s: float
) -> None:
    dv = np.array(d)
    vv = np.array(v)
    assume(np.linalg.norm(dv) >= 1.0)
    t = float(time_to_go(dv, vv, s))
    horizon = t if math.isfinite(t) else 1000.0
    earlier = np.linspace(0.0, horizon, 200)[:-1] if math.isfinite(t) else np.linspace(0.0, horizon, 200)
    # An astronomically late meeting can put the earlier positions beyond float range: an
    # infinite gap still says "out of reach", so the overflow is expected, not a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        gap = np.linalg.norm(dv + vv * earlier[:, None], axis=1) - s * earlier
    # Before the meeting (or ever, when there is none) the target is out of reach.
    assert (gap > -1e-6 * (np.linalg.norm(dv) + s * horizon)).all()


# ------------------------------------------------------------------ predict_intercept


def test_predict_intercept_shapes_and_reaction_time() -> None:
    targets = np.array([[10_000.0, 0, 1000.0], [0, 20_000.0, 0.0], [-5000.0, 0, 100.0]])
    vels = np.array([[0.0, 0, 0], [0, -300.0, 0], [-2000.0, 0, 0]])  # stationary, inbound, fleeing fast
    launchers = np.array([[0.0, 0, 0], [1000.0, 0, 0]])
    s, r = 1000.0, 2.5
    pip, t = predict_intercept(targets, vels, launchers, s, r)
    assert pip.shape == (3, 2, 3)
    assert t.shape == (3, 2)
    # Stationary target: the reaction time plus straight flight.
    for j in range(2):
        dist = np.linalg.norm(targets[0] - launchers[j])
        assert t[0, j] == pytest.approx(r + dist / s)
        np.testing.assert_allclose(pip[0, j], targets[0])
    # Moving target: the point is where the target is at that time, and the missile gets there.
    for j in range(2):
        np.testing.assert_allclose(pip[1, j], targets[1] + vels[1] * t[1, j])
        assert np.linalg.norm(pip[1, j] - launchers[j]) == pytest.approx(s * (t[1, j] - r), rel=1e-9)
    # Head-on at 300 m/s from 20 km: 19250 m left after the reaction time, closing at s + 300.
    assert t[1, 0] == pytest.approx(r + 19_250.0 / (s + 300.0), rel=1e-12)
    # Fleeing faster than the interceptor: no intercept.
    assert np.isinf(t[2]).all()
    assert np.isnan(pip[2]).all()


def test_predict_intercept_per_launcher_parameters() -> None:
    targets = np.array([[6000.0, 0.0, 0.0]])
    vels = np.zeros((1, 3))
    launchers = np.zeros((2, 3))
    pip, t = predict_intercept(targets, vels, launchers, np.array([1000.0, 2000.0]), np.array([1.0, 4.0]))
    np.testing.assert_allclose(t, [[7.0, 7.0]])
    np.testing.assert_allclose(pip, [[[6000.0, 0, 0], [6000.0, 0, 0]]])


# ------------------------------------------------------------------ in_envelope


def _env(points: list[list[float]]) -> list[bool]:
    launchers = np.array([[0.0, 0.0, 0.0]])
    pip = np.array(points, dtype=float)[:, None, :]  # (N, 1, 3)
    ok = in_envelope(pip, launchers, 1000.0, 40_000.0, 50.0, 30_000.0)
    assert ok.shape == (len(points), 1)
    return [bool(x) for x in ok[:, 0]]


def test_in_envelope_boundaries_are_inclusive() -> None:
    assert _env(
        [
            [0, 0, 1000.0],  # min range exactly
            [32_000.0, 0, 24_000.0],  # max range exactly (3-4-5 triangle)
            [5000.0, 0, 50.0],  # min altitude exactly
            [5000.0, 0, 30_000.0],  # max altitude exactly
            [20_000.0, 10_000.0, 5000.0],  # well inside
        ]
    ) == [True, True, True, True, True]


def test_in_envelope_just_outside() -> None:
    eps = 1e-6
    assert (
        _env(
            [
                [0, 0, 1000.0 - eps],  # too close
                [32_000.0, 0, 24_000.0 + 0.01],  # just beyond max range
                [5000.0, 0, 50.0 - eps],  # too low
                [1000.0, 0, 30_000.0 + eps],  # too high
                [1000.0, 0, 0.0],  # min range but on the ground
                [np.nan, 0, 1000.0],  # no intercept point
                [np.inf, 0, 1000.0],
            ]
        )
        == [False] * 7
    )


def test_in_envelope_per_launcher() -> None:
    launchers = np.array([[0.0, 0, 0], [100_000.0, 0, 0]])
    pip = np.array([[[10_000.0, 0, 1000.0], [10_000.0, 0, 1000.0]]])
    ok = in_envelope(pip, launchers, np.array([0.0, 0.0]), np.array([20_000.0, 20_000.0]), 0.0, 5000.0)
    assert ok.tolist() == [[True, False]]


# ------------------------------------------------------------------ path_intercept_time


def _position(t: float, starts: np.ndarray, points: np.ndarray, vels: np.ndarray) -> np.ndarray:
    out: np.ndarray = _positions(np.array([t]), starts, points, vels)[0]
    return out


def _positions(ts: np.ndarray, starts: np.ndarray, points: np.ndarray, vels: np.ndarray) -> np.ndarray:
    """Target positions (T, 3) on a piecewise-linear path at times ``ts``."""
    k = np.clip(np.searchsorted(starts, ts, side="right") - 1, 0, None)
    out: np.ndarray = points[k] + vels[k] * (ts - starts[k])[:, None]
    return out


@PROPS
@given(
    d=st.tuples(coord, coord, st.floats(0.0, 10_000.0)),
    v=st.tuples(vel, vel, st.floats(-100.0, 100.0)),
    s=speed,
    t0=st.floats(0.0, 50.0),
    leg_start=st.floats(0.0, 50.0),
)
def test_single_leg_agrees_with_time_to_go(
    d: tuple[float, float, float],
    v: tuple[float, float, float],
    s: float,
    t0: float,
    leg_start: float,
) -> None:
    launcher = np.array([100.0, -200.0, 0.0])
    start = launcher + np.array(d)
    vv = np.array(v)
    # The target is on its leg from leg_start; launch no earlier than that.
    t0 = max(t0, leg_start)
    pos_t0 = start + vv * (t0 - leg_start)
    assume(np.linalg.norm(pos_t0 - launcher) >= 1.0)
    end = 1e6
    t = path_intercept_time(launcher, t0, s, np.array([leg_start]), start[None, :], vv[None, :], end)
    expected = float(time_to_go(pos_t0 - launcher, vv, s))
    if math.isfinite(expected) and t0 + expected <= end:
        assert t is not None
        assert t - t0 == pytest.approx(expected, rel=1e-6, abs=1e-9)
    else:
        assert t is None


def test_single_leg_closed_form() -> None:
    launcher = np.zeros(3)
    t = path_intercept_time(
        launcher, 10.0, 1000.0, np.array([0.0]), np.array([[20_000.0, 0, 0]]), np.array([[-200.0, 0, 0]]), 1e4
    )
    # At launch the target is 18 km out, closing at 200 m/s: 18000 / 1200 = 15 s of flight.
    assert t == pytest.approx(25.0)


def test_two_leg_path_turn() -> None:
    # Flies away east at 300 m/s for 20 s (from 10 km to 16 km), then turns back west at 300 m/s.
    launcher = np.zeros(3)
    starts = np.array([0.0, 20.0])
    points = np.array([[10_000.0, 0, 0], [16_000.0, 0, 0]])
    vels = np.array([[300.0, 0, 0], [-300.0, 0, 0]])
    s = 400.0  # too slow to catch it on the first leg: 10000/(400-300) = 100 s > 20 s
    t = path_intercept_time(launcher, 0.0, s, starts, points, vels, 1000.0)
    assert t is not None
    assert t > 20.0
    # Second leg: |16000 - 300 (t - 20)| = 400 t  ->  t = 22000 / 700.
    assert t == pytest.approx(22_000.0 / 700.0, rel=1e-9)
    assert np.linalg.norm(_position(t, starts, points, vels) - launcher) == pytest.approx(s * t, rel=1e-9)


def test_two_leg_path_caught_on_first_leg() -> None:
    launcher = np.zeros(3)
    starts = np.array([0.0, 100.0])
    points = np.array([[10_000.0, 0, 0], [0.0, 0, 0]])
    vels = np.array([[-100.0, 0, 0], [0.0, 100.0, 0]])
    t = path_intercept_time(launcher, 0.0, 900.0, starts, points, vels, 1000.0)
    assert t == pytest.approx(10.0)


leg_v = st.tuples(st.floats(-600.0, 600.0), st.floats(-600.0, 600.0), st.floats(-50.0, 50.0))


@PROPS
@given(
    start=st.tuples(coord, coord, st.floats(100.0, 10_000.0)),
    vels=st.lists(leg_v, min_size=2, max_size=3),
    durations=st.lists(st.floats(1.0, 60.0), min_size=2, max_size=3),
    s=st.floats(100.0, 1500.0),
    t0=st.floats(0.0, 40.0),
)
def test_path_intercept_meets_and_is_earliest(
    start: tuple[float, float, float],
    vels: list[tuple[float, float, float]],
    durations: list[float],
    s: float,
    t0: float,
) -> None:
    n = min(len(vels), len(durations))
    v = np.array(vels[:n])
    starts = np.concatenate([[0.0], np.cumsum(durations[: n - 1])])
    points = np.empty((n, 3))
    points[0] = start
    for k in range(1, n):
        points[k] = points[k - 1] + v[k - 1] * (starts[k] - starts[k - 1])
    end = float(starts[-1] + durations[n - 1])
    launcher = np.zeros(3)
    assume(np.linalg.norm(_position(t0, starts, points, v)) >= 1.0)
    t = path_intercept_time(launcher, t0, s, starts, points, v, end)
    scale = np.linalg.norm(points, axis=1).max() + s * end
    horizon = end if t is None else t
    if t is not None:
        assert t0 <= t <= end
        reach = s * (t - t0)
        assert np.linalg.norm(_position(t, starts, points, v)) == pytest.approx(
            reach, rel=1e-6, abs=1e-6 * scale
        )
    # Never within reach before the returned time (or at all, when None).
    us = np.linspace(t0, horizon, 300)[:-1]
    gap = np.linalg.norm(_positions(us, starts, points, v), axis=1) - s * (us - t0)
    assert (gap > -1e-6 * scale).all()


def test_target_leaves_before_reach() -> None:
    launcher = np.zeros(3)
    starts = np.array([0.0])
    points = np.array([[30_000.0, 0, 0]])
    vels = np.array([[-100.0, 0, 0]])
    # Meeting would be at 30000 / 1100 = 27.3 s; the path ends at 20 s.
    assert path_intercept_time(launcher, 0.0, 1000.0, starts, points, vels, 20.0) is None
    assert path_intercept_time(launcher, 0.0, 1000.0, starts, points, vels, 30.0) == pytest.approx(
        30_000.0 / 1100.0
    )


def test_launch_after_path_end() -> None:
    launcher = np.zeros(3)
    t = path_intercept_time(
        launcher, 50.0, 1000.0, np.array([0.0]), np.array([[1000.0, 0, 0]]), np.zeros((1, 3)), 40.0
    )
    assert t is None


def test_target_already_in_reach_at_leg_start() -> None:
    # The target sits on the launcher when its leg starts after the launch.
    launcher = np.zeros(3)
    starts = np.array([0.0, 10.0])
    points = np.array([[5000.0, 0, 0], [0.0, 0, 0]])
    vels = np.array([[-500.0, 0, 0], [100.0, 0, 0]])
    t = path_intercept_time(launcher, 0.0, 1.0, starts, points, vels, 100.0)
    # The interceptor (1 m/s) meets it on the first leg: 5000 - 500 t = t.
    assert t == pytest.approx(5000.0 / 501.0)
