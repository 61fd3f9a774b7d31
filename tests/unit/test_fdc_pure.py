"""FDC pure logic: threat evaluation, weapon-target assignment, doctrine, track fusion."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bmc.fdc import assign as wta
from bmc.fdc import doctrine, threat
from bmc.fdc.fusion import SystemTracks
from protocols.messages import Classification, Identity, TrackReport, TrackStatus, WeaponsControl

# ------------------------------------------------------------------ threat evaluation


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


# ------------------------------------------------------------------ assignment


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


# ------------------------------------------------------------------ doctrine


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


# ------------------------------------------------------------------ fusion


def report(
    scan_time_s: float,
    tracks: list[tuple[int, tuple[float, float, float], tuple[float, float, float], float]],
    status: TrackStatus = TrackStatus.CONFIRMED,
    identity: Identity = Identity.UNKNOWN,
    classification: Classification = Classification.DRONE,
    truth: str = "",
) -> TrackReport:
    """One radar scan: (local id, position, velocity, position variance per axis) per track."""
    n = len(tracks)
    cov = np.zeros((n, 6, 6))
    for k, (*_, var) in enumerate(tracks):
        cov[k] = np.diag([var, var, var, 10.0, 10.0, 10.0])
    return TrackReport(
        scan_time_s=scan_time_s,
        track_id=np.array([t[0] for t in tracks], dtype=np.int64),
        state=np.array([[*t[1], *t[2]] for t in tracks], dtype=float).reshape(n, 6),
        covariance=cov,
        status=np.full(n, int(status), dtype=np.int64),
        identity=np.full(n, int(identity), dtype=np.int64),
        classification=np.full(n, int(classification), dtype=np.int64),
        truth_id=(truth,) * n,
    )


V0 = (0.0, 0.0, 0.0)


def test_two_radars_same_target_give_one_system_track() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)]), 0.0)
    st_.update("R2", report(0.0, [(7, (10_100.0, 50.0, 1000.0), V0, 100.0)]), 0.0)
    pic = st_.picture(0.0)
    assert len(pic) == 1
    assert pic.track_id.tolist() == [1]


def test_two_far_apart_targets_give_two_system_tracks() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)]), 0.0)
    st_.update("R2", report(0.0, [(7, (30_000.0, 0.0, 1000.0), V0, 100.0)]), 0.0)
    pic = st_.picture(0.0)
    assert len(pic) == 2
    assert sorted(pic.track_id.tolist()) == [1, 2]
    assert sorted(pic.state[:, 0].tolist()) == [10_000.0, 30_000.0]


def test_one_radar_never_merges_its_own_tracks() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)]), 0.0)
    st_.update(
        "R1",
        report(1.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0), (2, (10_050.0, 0.0, 1000.0), V0, 100.0)]),
        1.0,
    )
    assert len(st_.picture(1.0)) == 2


def test_tentative_tracks_do_not_create_system_tracks() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update(
        "R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)], status=TrackStatus.TENTATIVE), 0.0
    )
    assert len(st_.picture(0.0)) == 0
    st_.update("R1", report(1.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)]), 1.0)
    assert len(st_.picture(1.0)) == 1


def test_mapped_track_follows_its_radar_and_is_predicted() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    vel = (-200.0, 0.0, 0.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), vel, 100.0)]), 0.0)
    # Coasting reports still update; the report is 0.5 s old on arrival and gets predicted.
    st_.update("R1", report(1.5, [(1, (9_700.0, 0.0, 1000.0), vel, 100.0)], status=TrackStatus.COASTING), 2.0)
    pic = st_.picture(3.0)
    assert pic.track_id.tolist() == [1]
    np.testing.assert_allclose(pic.state[0], [9_700.0 - 200.0 * 1.5, 0.0, 1000.0, -200.0, 0.0, 0.0])
    assert pic.first_seen_s.tolist() == [0.0]


def test_dropped_status_unmaps() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)]), 0.0)
    st_.update("R1", report(1.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)], status=TrackStatus.DROPPED), 1.0)
    # The radar reuses local id 1 for a new target 20 km away: a new system track, the old one untouched.
    st_.update("R1", report(2.0, [(1, (30_000.0, 0.0, 1000.0), V0, 100.0)]), 2.0)
    pic = st_.picture(2.0)
    assert sorted(pic.track_id.tolist()) == [1, 2]
    by_id = dict(zip(pic.track_id.tolist(), pic.state[:, 0].tolist(), strict=True))
    assert by_id == {1: 10_000.0, 2: 30_000.0}


def test_dropped_report_does_not_update() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)]), 0.0)
    st_.update("R1", report(1.0, [(1, (10_200.0, 0.0, 1000.0), V0, 100.0)], status=TrackStatus.DROPPED), 1.0)
    st_.update("R1", report(2.0, [(1, (10_400.0, 0.0, 1000.0), V0, 100.0)], status=TrackStatus.COASTING), 2.0)
    pic = st_.picture(2.0)
    assert pic.state[:, 0].tolist() == [10_000.0]


def test_prune_removes_stale_tracks_after_timeout() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)]), 0.0)
    st_.update("R1", report(5.0, [(2, (30_000.0, 0.0, 1000.0), V0, 100.0)]), 5.0)
    assert st_.prune(10.0) == []  # exactly the timeout: still alive
    assert st_.prune(10.5) == [1]
    assert st_.picture(10.5).track_id.tolist() == [2]
    assert st_.prune(15.5) == [2]
    assert len(st_.picture(15.5)) == 0
    # The radar's mapping went with the system track: its next confirmed report starts a new one.
    st_.update("R1", report(16.0, [(1, (10_000.0, 0.0, 1000.0), V0, 100.0)]), 16.0)
    assert st_.picture(16.0).track_id.tolist() == [3]


def test_more_accurate_radar_provides_the_state() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 400.0)]), 0.0)
    st_.update("R2", report(0.0, [(4, (10_100.0, 0.0, 1000.0), V0, 25.0)]), 0.0)
    pic = st_.picture(0.0)
    assert pic.state[0, 0] == 10_100.0
    assert pic.position_variance_m2.tolist() == [75.0]
    # The less accurate radar reports again: ignored while the better source is fresh.
    st_.update("R1", report(1.0, [(1, (10_050.0, 0.0, 1000.0), V0, 400.0)]), 1.0)
    assert st_.picture(1.0).state[0, 0] == 10_100.0
    # The better source goes quiet for longer than stale_s: the other radar takes over.
    st_.update("R1", report(6.5, [(1, (10_300.0, 0.0, 1000.0), V0, 400.0)]), 6.5)
    pic = st_.picture(6.5)
    assert pic.state[0, 0] == 10_300.0
    assert pic.position_variance_m2.tolist() == [1200.0]


def test_friend_flag_is_sticky() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    pos = (10_000.0, 0.0, 1000.0)
    st_.update("R1", report(0.0, [(1, pos, V0, 100.0)], identity=Identity.PENDING), 0.0)
    assert st_.picture(0.0).friend.tolist() == [False]
    st_.update("R1", report(1.0, [(1, pos, V0, 100.0)], identity=Identity.FRIEND), 1.0)
    st_.update("R1", report(2.0, [(1, pos, V0, 100.0)], identity=Identity.UNKNOWN), 2.0)
    assert st_.picture(2.0).friend.tolist() == [True]


def test_friend_flag_from_a_secondary_radar() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 1.0)]), 0.0)
    # R2 is less accurate (never the source) but heard the IFF reply.
    st_.update("R2", report(0.0, [(3, (10_010.0, 0.0, 1000.0), V0, 900.0)], identity=Identity.FRIEND), 0.0)
    st_.update("R2", report(1.0, [(3, (10_010.0, 0.0, 1000.0), V0, 900.0)]), 1.0)
    pic = st_.picture(1.0)
    assert pic.friend.tolist() == [True]
    assert pic.state[0, 0] == 10_000.0


def test_classification_and_truth_annotation() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=10.0)
    st_.update(
        "R1",
        report(0.0, [(1, (1000.0, 0.0, 100.0), V0, 10.0)], classification=Classification.FIGHTER, truth="T9"),
        0.0,
    )
    pic = st_.picture(0.0)
    assert pic.classification.tolist() == [Classification.FIGHTER]
    assert pic.truth_id == ("T9",)


def test_many_tracks_grow_the_store() -> None:
    st_ = SystemTracks(gate_m=100.0, timeout_s=10.0)
    tracks = [(i, (1000.0 * i, 0.0, 500.0), V0, 10.0) for i in range(150)]
    st_.update("R1", report(0.0, tracks), 0.0)
    pic = st_.picture(0.0)
    assert len(pic) == 150
    assert sorted(pic.track_id.tolist()) == list(range(1, 151))
    assert sorted(pic.state[:, 0].tolist()) == [1000.0 * i for i in range(150)]
    st_.update("R1", report(1.0, [(i, (1000.0 * i, 10.0, 500.0), V0, 10.0) for i in range(150)]), 1.0)
    assert (st_.picture(1.0).state[:, 1] == 10.0).all()


def test_track_reported_by_secondary_radar_is_not_pruned() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=3.0)  # stale_s defaults to 5.0
    st_.update("R2", report(0.0, [(1, (10_000.0, 0.0, 1000.0), V0, 1.0)]), 0.0)
    st_.update("R1", report(0.0, [(5, (10_010.0, 0.0, 1000.0), V0, 100.0)]), 0.0)
    pruned = []
    for t in (1.0, 2.0, 3.0, 4.0, 5.0):
        st_.update("R1", report(t, [(5, (10_010.0, 0.0, 1000.0), V0, 100.0)]), t)
        pruned += st_.prune(t)
    assert pruned == []
    assert st_.picture(5.0).track_id.tolist() == [1]


def test_fusion_validates_parameters() -> None:
    with pytest.raises(ValueError, match=r"\(got 0.0, 10.0\)"):
        SystemTracks(gate_m=0.0, timeout_s=10.0)
    with pytest.raises(ValueError, match=r"\(got 100.0, -1.0\)"):
        SystemTracks(gate_m=100.0, timeout_s=-1.0)


def test_friend_mark_expires_after_the_memory() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=100.0, friend_memory_s=10.0)
    st_.update("R1", report(0.0, [(1, (5_000.0, 0.0, 500.0), V0, 100.0)], identity=Identity.FRIEND), 0.0)
    assert st_.picture(0.0).friend.tolist() == [True]
    for t in (2.0, 4.0, 8.0):
        st_.update("R1", report(t, [(1, (5_000.0, 0.0, 500.0), V0, 100.0)]), t)
    assert st_.picture(8.0).friend.tolist() == [True]
    st_.update("R1", report(12.0, [(1, (5_000.0, 0.0, 500.0), V0, 100.0)]), 12.0)
    assert st_.picture(12.0).friend.tolist() == [False]


def test_a_radar_track_that_drifts_away_is_split_off() -> None:
    # R1 (accurate) and R2 join on one target; R2's track then follows another target 5 km away.
    st_ = SystemTracks(gate_m=1000.0, timeout_s=100.0)
    st_.update("R1", report(0.0, [(1, (10_000.0, 0.0, 500.0), V0, 10.0)]), 0.0)
    st_.update("R2", report(0.0, [(7, (10_300.0, 0.0, 500.0), V0, 100.0)]), 0.0)
    assert len(st_.picture(0.0)) == 1
    st_.update("R1", report(1.0, [(1, (10_000.0, 0.0, 500.0), V0, 10.0)]), 1.0)
    st_.update("R2", report(1.0, [(7, (15_000.0, 0.0, 500.0), V0, 100.0)]), 1.0)
    pic = st_.picture(1.0)
    assert len(pic) == 2
    assert sorted(pic.state[:, 0].tolist()) == [10_000.0, 15_000.0]


def test_fresh_time_follows_confirmed_updates_only() -> None:
    st_ = SystemTracks(gate_m=500.0, timeout_s=100.0)
    st_.update("R1", report(0.0, [(1, (5_000.0, 0.0, 500.0), V0, 100.0)]), 0.0)
    st_.update("R1", report(2.0, [(1, (5_000.0, 0.0, 500.0), V0, 100.0)], status=TrackStatus.COASTING), 2.0)
    assert st_.picture(2.0).fresh_s.tolist() == [0.0]
    st_.update("R1", report(4.0, [(1, (5_000.0, 0.0, 500.0), V0, 100.0)]), 4.0)
    assert st_.picture(4.0).fresh_s.tolist() == [4.0]


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
