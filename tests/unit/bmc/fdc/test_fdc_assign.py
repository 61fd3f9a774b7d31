"""Weapon-target assignment (bmc/fdc/assign.py): feasibility and optimality against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bmc.fdc import assign as wta


def brute_force_best(value: np.ndarray, feasible: np.ndarray) -> float:
    """Best total over every matching of feasible pairs."""
    n_tracks, n_launchers = value.shape
    best = 0.0
    # Each launcher takes one of the targets or none.
    for choice in itertools.product([None, *range(n_tracks)], repeat=n_launchers):
        rows = [r for r in choice if r is not None]
        if len(rows) != len(set(rows)):
            continue
        pairs = [(r, c) for c, r in enumerate(choice) if r is not None]
        if all(feasible[r, c] for r, c in pairs):
            best = max(best, sum(value[r, c] for r, c in pairs))
    return best


def check_assignment(value: np.ndarray, feasible: np.ndarray) -> list[tuple[int, int]]:
    pairs = wta.assign(value, feasible)
    rows = [r for r, _ in pairs]
    cols = [c for _, c in pairs]
    assert len(set(rows)) == len(rows), "a target was assigned twice"
    assert len(set(cols)) == len(cols), "a launcher was assigned twice"
    assert all(feasible[r, c] for r, c in pairs), "an infeasible pair was assigned"
    total = sum(value[r, c] for r, c in pairs)
    assert total == pytest.approx(brute_force_best(value, feasible))
    return pairs


def test_assign_hand_made_3x2() -> None:
    value = np.array([[5.0, 4.0], [4.5, 1.0], [1.0, 3.0]])
    feasible = np.array([[True, True], [True, False], [True, True]])
    # Greedy would take (0, 0) = 5 then (2, 1) = 3 -> 8; (0, 1) + (1, 0) = 8.5 is optimal.
    pairs = check_assignment(value, feasible)
    assert sorted(pairs) == [(0, 1), (1, 0)]


def test_assign_ignores_value_of_infeasible_pairs() -> None:
    value = np.array([[100.0, 1.0], [2.0, 100.0]])
    feasible = np.array([[False, True], [True, False]])
    assert sorted(check_assignment(value, feasible)) == [(0, 1), (1, 0)]


def test_assign_empty_feasibility() -> None:
    assert wta.assign(np.ones((3, 2)), np.zeros((3, 2), dtype=bool)) == []
    assert wta.assign(np.ones((0, 2)), np.zeros((0, 2), dtype=bool)) == []
    assert wta.assign(np.ones((3, 0)), np.zeros((3, 0), dtype=bool)) == []


def test_assign_single_feasible_pair() -> None:
    feasible = np.zeros((4, 3), dtype=bool)
    feasible[2, 1] = True
    assert wta.assign(np.full((4, 3), 0.5), feasible) == [(2, 1)]


@settings(max_examples=100, deadline=None)
@given(
    value=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 4)),
        elements=st.floats(0.01, 10.0),
    ),
    data=st.data(),
)
def test_assign_is_optimal_on_random_problems(value: np.ndarray, data: st.DataObject) -> None:
    feasible = data.draw(hnp.arrays(np.bool_, value.shape))
    check_assignment(value, feasible)


def units(n: int = 1, **kw: float) -> wta.FireUnits:
    base = {
        "interceptor_speed_mps": 1000.0,
        "reaction_time_s": 2.0,
        "min_range_m": 1000.0,
        "max_range_m": 40_000.0,
        "min_altitude_m": 0.0,
        "max_altitude_m": 20_000.0,
        "pk": 0.8,
    }
    base.update(kw)
    return wta.FireUnits(
        position_m=np.zeros((n, 3)) + np.arange(n)[:, None] * np.array([1000.0, 0.0, 0.0]),
        **{k: np.full(n, v) for k, v in base.items()},
    )


def test_pair_feasible_and_shapes() -> None:
    pos = np.array([[20_000.0, 0.0, 3000.0], [10_000.0, 5000.0, 1000.0]])
    vel = np.array([[-250.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    p = wta.pair(pos, vel, np.array([100.0, 100.0]), units(2), np.array([True, True]))
    assert p.feasible.shape == (2, 2)
    assert p.intercept_point_m.shape == (2, 2, 3)
    assert p.time_to_intercept_s.shape == (2, 2)
    assert p.feasible.all()
    # Stationary target: reaction time plus straight flight.
    assert p.time_to_intercept_s[1, 0] == pytest.approx(2.0 + np.linalg.norm(pos[1]) / 1000.0)


def test_pair_out_of_max_range_is_infeasible() -> None:
    pos = np.array([[200_000.0, 0.0, 3000.0], [30_000.0, 0.0, 3000.0]])
    vel = np.zeros((2, 3))
    p = wta.pair(pos, vel, np.array([1e6, 1e6]), units(), np.array([True]))
    assert p.feasible[:, 0].tolist() == [False, True]
    assert np.isfinite(p.time_to_intercept_s[0, 0])  # reachable in time, just outside the envelope


def test_pair_too_late_is_infeasible() -> None:
    pos = np.array([[20_000.0, 0.0, 3000.0]])
    vel = np.array([[-250.0, 0.0, 0.0]])
    p = wta.pair(pos, vel, np.array([1e6]), units(), np.array([True]))
    tti = float(p.time_to_intercept_s[0, 0])
    assert p.feasible[0, 0]
    late = wta.pair(pos, vel, np.array([tti - 0.01]), units(), np.array([True]))
    just = wta.pair(pos, vel, np.array([tti]), units(), np.array([True]))
    assert late.feasible.tolist() == [[False]]
    assert just.feasible.tolist() == [[True]]


def test_pair_unavailable_launcher_is_infeasible() -> None:
    pos = np.array([[20_000.0, 0.0, 3000.0]])
    vel = np.zeros((1, 3))
    p = wta.pair(pos, vel, np.array([1e6]), units(3), np.array([True, False, True]))
    assert p.feasible.tolist() == [[True, False, True]]


def test_pair_uncatchable_target_is_infeasible() -> None:
    pos = np.array([[20_000.0, 0.0, 3000.0]])
    vel = np.array([[2000.0, 0.0, 0.0]])  # fleeing faster than the interceptor
    p = wta.pair(pos, vel, np.array([1e6]), units(), np.array([True]))
    assert p.feasible.tolist() == [[False]]
    assert np.isinf(p.time_to_intercept_s[0, 0])
