"""Unit tests of the vectorised Kalman tracker."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from protocols.messages import Classification, Identity, TrackStatus
from sensors.detection import enu_to_polar, polar_covariance_to_enu, polar_to_enu
from sensors.tracker import Tracker, TrackerParams, TrackSet, _gnn_assign, classify

RADAR_M = np.array([0.0, 0.0, 10.0])
SIGMA_RANGE_M = 20.0
SIGMA_ANGLE_RAD = 1e-3
SCAN_S = 2.0


def plots_of(
    truth_m: np.ndarray, rng: np.random.Generator, iff_reply: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Noisy converted-measurement plots of every truth position, truth index = row."""
    truth_m = np.asarray(truth_m, dtype=np.float64).reshape(-1, 3)
    n = truth_m.shape[0]
    r, az, el = enu_to_polar(RADAR_M, truth_m)
    noise = rng.standard_normal((n, 3)) * [SIGMA_RANGE_M, SIGMA_ANGLE_RAD, SIGMA_ANGLE_RAD]
    r, az, el = r + noise[:, 0], az + noise[:, 1], el + noise[:, 2]
    position = polar_to_enu(RADAR_M, r, az, el).reshape(-1, 3)
    covariance = polar_covariance_to_enu(r, az, el, SIGMA_RANGE_M, SIGMA_ANGLE_RAD, SIGMA_ANGLE_RAD)
    replies = np.zeros(n, dtype=bool) if iff_reply is None else iff_reply
    return position, covariance, np.arange(n, dtype=np.int64), replies


def no_plots() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros((0, 3)), np.zeros((0, 3, 3)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)


def fly(start_m: np.ndarray, velocity_mps: np.ndarray, time_s: float) -> np.ndarray:
    return np.asarray(start_m) + np.asarray(velocity_mps) * time_s


# --- life cycle ----------------------------------------------------------------------------------


def test_empty_step_returns_empty_track_set() -> None:
    tracks = Tracker(TrackerParams()).step(0.0, *no_plots())
    assert len(tracks) == 0
    assert tracks.track_id.shape == (0,) and tracks.track_id.dtype == np.int64
    assert tracks.state.shape == (0, 6)
    assert tracks.covariance.shape == (0, 6, 6)
    for column in (tracks.status, tracks.identity, tracks.classification, tracks.truth_index):
        assert column.shape == (0,) and column.dtype == np.int64


def test_single_straight_target_confirms_and_converges() -> None:
    rng = np.random.default_rng(10)
    # Low process noise suits this non-manoeuvring target; the default 10 m/s^2 keeps the
    # velocity error near 7 m/s per axis at 36 km, too loose for a 10 m/s bound.
    tracker = Tracker(TrackerParams(confirm_hits=3, process_noise_mps2=1.0))
    start, velocity = np.array([20_000.0, 30_000.0, 2_000.0]), np.array([-150.0, 120.0, 5.0])
    history: list[TrackSet] = []
    for k in range(12):
        t = k * SCAN_S
        history.append(tracker.step(t, *plots_of(fly(start, velocity, t)[None], rng)))
    assert all(len(ts) == 1 for ts in history)
    assert {int(ts.track_id[0]) for ts in history} == {1}
    statuses = [int(ts.status[0]) for ts in history]
    assert statuses[:2] == [TrackStatus.TENTATIVE] * 2
    assert statuses[2:] == [TrackStatus.CONFIRMED] * 10
    assert [int(ts.identity[0]) for ts in history[:4]] == [Identity.PENDING] * 2 + [Identity.UNKNOWN] * 2
    # First step: no prediction, the track sits on the plot with zero velocity.
    assert np.all(history[0].state[0, 3:] == 0.0)
    final = history[-1]
    assert np.linalg.norm(final.state[0, 3:] - velocity) < 10.0
    # The filter's own uncertainty is consistent with that error.
    assert np.all(np.abs(final.state[0, 3:] - velocity) < 4.0 * np.sqrt(np.diag(final.covariance[0])[3:]))
    assert np.linalg.norm(final.state[0, :3] - fly(start, velocity, 11 * SCAN_S)) < 60.0
    assert int(final.truth_index[0]) == 0
    np.testing.assert_allclose(final.covariance[0], final.covariance[0].T, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(final.covariance[0]) > 0.0)


def test_two_separated_targets_give_two_tracks() -> None:
    rng = np.random.default_rng(11)
    tracker = Tracker(TrackerParams())
    start = np.array([[10_000.0, 20_000.0, 1_000.0], [-15_000.0, 25_000.0, 6_000.0]])
    velocity = np.array([[100.0, 0.0, 0.0], [0.0, -250.0, 0.0]])
    for k in range(6):
        tracks = tracker.step(k * SCAN_S, *plots_of(start + velocity * k * SCAN_S, rng))
    assert tracks.track_id.tolist() == [1, 2]
    assert tracks.truth_index.tolist() == [0, 1]
    assert tracks.status.tolist() == [TrackStatus.CONFIRMED] * 2
    np.testing.assert_allclose(tracks.state[:, 3:], velocity, atol=25.0)


def test_lost_target_coasts_then_is_dropped_once() -> None:
    rng = np.random.default_rng(12)
    tracker = Tracker(TrackerParams(drop_misses=3))
    start, velocity = np.array([5_000.0, 40_000.0, 3_000.0]), np.array([0.0, -200.0, 0.0])
    for k in range(5):
        tracker.step(k * SCAN_S, *plots_of(fly(start, velocity, k * SCAN_S)[None], rng))
    last_seen = tracker.step(5 * SCAN_S, *plots_of(fly(start, velocity, 5 * SCAN_S)[None], rng))
    statuses, positions = [], []
    for k in range(6, 10):
        ts = tracker.step(k * SCAN_S, *no_plots())
        statuses.append(ts.status.tolist())
        positions.append(ts.state[:, 1].tolist())
    assert statuses == [[TrackStatus.COASTING], [TrackStatus.COASTING], [TrackStatus.DROPPED], []]
    # Coasting tracks keep being predicted along their velocity.
    assert positions[0][0] == pytest.approx(last_seen.state[0, 1] - 400.0, abs=30.0)
    assert positions[1][0] == pytest.approx(last_seen.state[0, 1] - 800.0, abs=60.0)
    assert len(tracker) == 0


def test_confirmed_track_recovers_from_coasting() -> None:
    rng = np.random.default_rng(13)
    tracker = Tracker(TrackerParams())
    start, velocity = np.array([5_000.0, 40_000.0, 3_000.0]), np.array([0.0, -200.0, 0.0])
    for k in range(4):
        tracker.step(k * SCAN_S, *plots_of(fly(start, velocity, k * SCAN_S)[None], rng))
    assert tracker.step(4 * SCAN_S, *no_plots()).status.tolist() == [TrackStatus.COASTING]
    back = tracker.step(5 * SCAN_S, *plots_of(fly(start, velocity, 5 * SCAN_S)[None], rng))
    assert back.track_id.tolist() == [1] and back.status.tolist() == [TrackStatus.CONFIRMED]


def test_single_false_plot_gives_tentative_track_that_is_dropped() -> None:
    tracker = Tracker(TrackerParams())
    false_plot = (
        np.array([[12_000.0, -3_000.0, 500.0]]),
        np.diag([400.0, 400.0, 900.0])[None],
        np.array([-1]),
        np.array([False]),
    )
    first = tracker.step(0.0, *false_plot)
    assert first.status.tolist() == [TrackStatus.TENTATIVE]
    assert first.truth_index.tolist() == [-1]
    np.testing.assert_array_equal(first.state[0], [12_000.0, -3_000.0, 500.0, 0.0, 0.0, 0.0])
    assert tracker.step(2.0, *no_plots()).status.tolist() == [TrackStatus.TENTATIVE]
    assert tracker.step(4.0, *no_plots()).status.tolist() == [TrackStatus.DROPPED]
    assert len(tracker.step(6.0, *no_plots())) == 0
    # Identifiers are never reused.
    assert tracker.step(8.0, *false_plot).track_id.tolist() == [2]


def test_friend_mark_fades_without_replies() -> None:
    # One reply (a friend's plot taken once when paths crossed) then silence: FRIEND for
    # iff_memory_scans scans, then back to UNKNOWN.
    rng = np.random.default_rng(16)
    tracker = Tracker(TrackerParams(iff_memory_scans=4))
    start, velocity = np.array([-8_000.0, 15_000.0, 1_500.0]), np.array([80.0, 0.0, 0.0])
    identities = []
    for k in range(10):
        reply = np.array([k == 3])
        ts = tracker.step(k * SCAN_S, *plots_of(fly(start, velocity, k * SCAN_S)[None], rng, reply))
        identities.append(int(ts.identity[0]))
    assert identities[:3] == [Identity.PENDING, Identity.PENDING, Identity.UNKNOWN]
    assert identities[3:7] == [Identity.FRIEND] * 4
    assert identities[7:] == [Identity.UNKNOWN] * 3


def test_iff_memory_scans_is_validated() -> None:
    with pytest.raises(ValueError, match=r"iff_memory_scans.*0"):
        TrackerParams(iff_memory_scans=0)


def test_iff_reply_makes_friend_and_it_sticks() -> None:
    rng = np.random.default_rng(14)
    tracker = Tracker(TrackerParams())
    start, velocity = np.array([-8_000.0, 15_000.0, 1_500.0]), np.array([80.0, 0.0, 0.0])
    identities = []
    for k in range(6):
        reply = np.array([k == 1])
        ts = tracker.step(k * SCAN_S, *plots_of(fly(start, velocity, k * SCAN_S)[None], rng, reply))
        identities.append(int(ts.identity[0]))
    assert identities == [Identity.PENDING] + [Identity.FRIEND] * 5


def test_crossing_targets_keep_their_ids() -> None:
    rng = np.random.default_rng(15)
    tracker = Tracker(TrackerParams())
    # Two aircraft crossing at 60 degrees over the same point 20 s in, 400 m apart in height.
    crossing = np.array([0.0, 30_000.0, 3_000.0])
    velocity = np.array([[200.0, 0.0, 0.0], [100.0, 100.0 * math.sqrt(3.0), 0.0]])
    offsets = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 400.0]])
    ids_by_truth: dict[int, set[int]] = {0: set(), 1: set()}
    for k in range(21):
        t = k * SCAN_S
        truth = crossing + offsets + velocity * (t - 20.0)
        tracks = tracker.step(t, *plots_of(truth, rng))
        assert len(tracks) == 2
        for track_id, truth_index in zip(tracks.track_id.tolist(), tracks.truth_index.tolist(), strict=True):
            ids_by_truth[truth_index].add(track_id)
    assert ids_by_truth == {0: {1}, 1: {2}}


def test_step_rejects_time_going_backwards_and_bad_shapes() -> None:
    tracker = Tracker(TrackerParams())
    tracker.step(10.0, *no_plots())
    with pytest.raises(ValueError, match=r"9\.5"):
        tracker.step(9.5, *no_plots())
    with pytest.raises(ValueError, match="2 plot positions"):
        tracker.step(12.0, np.zeros((2, 3)), np.zeros((2, 3, 3)), np.zeros(1, np.int64), np.zeros(2, bool))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("confirm_hits", 0),
        ("drop_misses", -1),
        ("gate_sigma", 0.0),
        ("process_noise_mps2", -2.0),
        ("initial_speed_sigma_mps", math.inf),
    ],
)
def test_params_validation_quotes_bad_value(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{field}.*{value!r}"):
        TrackerParams(**{field: value})


# --- random scans: invariants ---------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_scans=st.integers(1, 12), max_plots=st.integers(0, 15))
def test_track_set_invariants_under_random_plots(seed: int, n_scans: int, max_plots: int) -> None:
    rng = np.random.default_rng(seed)
    tracker = Tracker(TrackerParams(confirm_hits=2, drop_misses=2))
    ever_dropped: set[int] = set()
    highest_id = 0
    for k in range(n_scans):
        n = int(rng.integers(0, max_plots + 1))
        truth = rng.uniform([-20e3, 5e3, 100.0], [20e3, 45e3, 9e3], (n, 3))
        tracks = tracker.step(k * SCAN_S, *plots_of(truth, rng))
        ids = tracks.track_id.tolist()
        assert ids == sorted(set(ids))
        assert not ever_dropped & set(ids)
        assert tracks.state.shape == (len(ids), 6) and tracks.covariance.shape == (len(ids), 6, 6)
        new_ids = [i for i in ids if i > highest_id]
        # Every plot either updates a track or starts one; new ids are consecutive.
        assert new_ids == list(range(highest_id + 1, highest_id + 1 + len(new_ids)))
        assert len(new_ids) <= n
        updated = np.count_nonzero(
            (tracks.status == TrackStatus.CONFIRMED) | (tracks.status == TrackStatus.TENTATIVE)
        )
        assert updated >= n
        highest_id = max([highest_id, *ids])
        ever_dropped |= set(tracks.track_id[tracks.status == TrackStatus.DROPPED].tolist())
        np.testing.assert_allclose(tracks.covariance, tracks.covariance.transpose(0, 2, 1), atol=1e-6)
        if len(ids):
            assert np.all(np.linalg.eigvalsh(tracks.covariance) > 0.0)


# --- association -------------------------------------------------------------------------------


def test_gnn_prefers_global_optimum_over_greedy() -> None:
    # Track 0 is closest to plot 0, but only track 0 can take plot 1: the optimum pairs both.
    rows, cols = np.array([0, 0, 1]), np.array([0, 1, 0])
    chosen = _gnn_assign(rows, cols, np.array([1.0, 3.0, 1.5]), n_rows=2, n_cols=2)
    assert sorted(zip(rows[chosen].tolist(), cols[chosen].tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_gnn_clustered_path_matches_dense_optimum() -> None:
    # Many small conflicts force the per-cluster path; it must match one dense solve.
    rng = np.random.default_rng(16)
    rows_l, cols_l = [], []
    for c in range(150):
        for i in range(3):
            for j in range(2):
                if rng.random() < 0.7:
                    rows_l.append(3 * c + i)
                    cols_l.append(2 * c + j)
    rows, cols = np.array(rows_l), np.array(cols_l)
    cost = rng.uniform(20.0, 40.0, rows.shape[0])  # like d^2 + ln|S|
    chosen = _gnn_assign(rows, cols, cost, n_rows=450, n_cols=300)
    got_rows, got_cols = rows[chosen], cols[chosen]
    lookup = {(r, c): x for r, c, x in zip(rows.tolist(), cols.tolist(), cost.tolist(), strict=True)}
    got = [(r, c) for r, c in zip(got_rows.tolist(), got_cols.tolist(), strict=True)]
    assert all(pair in lookup for pair in got)
    assert len(set(got_rows.tolist())) == len(got) == len(set(got_cols.tolist()))
    dense = np.full((450, 300), 1e6)  # more than 300 real pairs together can cost
    dense[rows, cols] = cost
    ref_rows, ref_cols = linear_sum_assignment(dense)
    real = dense[ref_rows, ref_cols] < 1e6
    assert len(got) == int(np.count_nonzero(real))
    assert sum(lookup[p] for p in got) == pytest.approx(float(dense[ref_rows[real], ref_cols[real]].sum()))


@pytest.mark.parametrize(("d2", "associated"), [(15.5, True), (16.5, False)])
def test_gate_is_mahalanobis_distance_against_predicted_innovation_covariance(
    d2: float, associated: bool
) -> None:
    rng = np.random.default_rng(19)
    params = TrackerParams(gate_sigma=4.0, process_noise_mps2=10.0)
    tracker = Tracker(params)
    start, velocity = np.array([3_000.0, 25_000.0, 1_000.0]), np.array([120.0, -60.0, 0.0])
    for k in range(5):
        tracks = tracker.step(k * SCAN_S, *plots_of(fly(start, velocity, k * SCAN_S)[None], rng))
    # Independent prediction: F = [[I, dt I], [0, I]], Q = q^2 [[dt^3/3, dt^2/2], [dt^2/2, dt]] per axis.
    dt = SCAN_S
    f = np.block([[np.eye(3), dt * np.eye(3)], [np.zeros((3, 3)), np.eye(3)]])
    q = params.process_noise_mps2**2 * np.kron([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]], np.eye(3))
    x_pred = f @ tracks.state[0]
    p_pred = f @ tracks.covariance[0] @ f.T + q
    r = np.diag([400.0, 900.0, 2500.0])
    s = p_pred[:3, :3] + r
    direction = np.array([0.3, -0.8, 0.5])
    plot = x_pred[:3] + direction * math.sqrt(d2 / (direction @ np.linalg.solve(s, direction)))
    after = tracker.step(5 * SCAN_S, plot[None], r[None], np.array([0]), np.array([False]))
    if associated:
        assert after.track_id.tolist() == [1]
        assert after.status.tolist() == [TrackStatus.CONFIRMED]
        # The textbook Kalman update of the independent prediction.
        gain = p_pred[:, :3] @ np.linalg.inv(s)
        np.testing.assert_allclose(after.state[0], x_pred + gain @ (plot - x_pred[:3]), rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(after.covariance[0], p_pred - gain @ p_pred[:3], rtol=1e-9, atol=1e-9)
    else:
        assert after.track_id.tolist() == [1, 2]
        assert after.status.tolist() == [TrackStatus.COASTING, TrackStatus.TENTATIVE]
        np.testing.assert_allclose(after.state[0], x_pred, atol=1e-6)
        np.testing.assert_allclose(after.covariance[0], p_pred, rtol=1e-12)


def test_uncertain_tentative_track_does_not_steal_plot_from_confirmed_track() -> None:
    rng = np.random.default_rng(20)
    tracker = Tracker(TrackerParams())
    start, velocity = np.array([0.0, 20_000.0, 1_500.0]), np.array([100.0, 0.0, 0.0])
    for k in range(5):
        tracker.step(k * SCAN_S, *plots_of(fly(start, velocity, k * SCAN_S)[None], rng))
    # A false plot 400 m off starts a tentative track with a wide velocity prior; next
    # scan only the real plot comes, looking "closer" (smaller d^2) to the wide track.
    position, covariance, _, _ = plots_of(fly(start, velocity, 5 * SCAN_S)[None], rng)
    false_position = position + np.array([0.0, 400.0, 0.0])
    tracker.step(
        5 * SCAN_S,
        np.concatenate([position, false_position]),
        np.concatenate([covariance, covariance]),
        np.array([0, -1]),
        np.array([False, False]),
    )
    next_scan = tracker.step(6 * SCAN_S, *plots_of(fly(start, velocity, 6 * SCAN_S)[None], rng))
    assert next_scan.track_id.tolist() == [1, 2]
    assert next_scan.status.tolist() == [TrackStatus.CONFIRMED, TrackStatus.TENTATIVE]
    assert next_scan.truth_index.tolist() == [0, -1]


def test_nearby_plots_go_to_nearest_tracks() -> None:
    # Two confirmed parallel tracks 300 m apart; plots of both must not swap.
    rng = np.random.default_rng(17)
    tracker = Tracker(TrackerParams())
    start = np.array([[0.0, 20_000.0, 2_000.0], [0.0, 20_300.0, 2_000.0]])
    velocity = np.array([150.0, 0.0, 0.0])
    for k in range(10):
        tracks = tracker.step(k * SCAN_S, *plots_of(start + velocity * k * SCAN_S, rng))
    assert tracks.track_id.tolist() == [1, 2]
    assert tracks.truth_index.tolist() == [0, 1]


# --- classification ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("speed_mps", "up_m", "expected"),
    [
        (250.0, 50.0, Classification.CRUISE_MISSILE),
        (250.0, 5_000.0, Classification.FIGHTER),
        (400.0, 50.0, Classification.FIGHTER),
        (120.0, 200.0, Classification.HELICOPTER),
        (120.0, 6_000.0, Classification.TRANSPORT),
        (50.0, 300.0, Classification.DRONE),
        (0.0, 100.0, Classification.DRONE),
        (50.0, 5_000.0, Classification.UNKNOWN),
    ],
)
def test_classify_rules(speed_mps: float, up_m: float, expected: int) -> None:
    # Direction must not matter, only speed and height.
    direction = np.array([0.6, 0.0, 0.8])
    state = np.concatenate([[1_000.0, 2_000.0, up_m], speed_mps * direction])
    assert classify(state[None]).tolist() == [expected]


def test_classification_waits_for_a_velocity() -> None:
    rng = np.random.default_rng(18)
    tracker = Tracker(TrackerParams())
    start, velocity = np.array([0.0, 30_000.0, 100.0]), np.array([0.0, -250.0, 0.0])
    classes = []
    for k in range(5):
        tracks = tracker.step(k * SCAN_S, *plots_of(fly(start, velocity, k * SCAN_S)[None], rng))
        classes.append(int(tracks.classification[0]))
    assert classes[0] == Classification.UNKNOWN
    assert classes[-1] == Classification.CRUISE_MISSILE
