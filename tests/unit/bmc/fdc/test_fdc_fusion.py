"""Track fusion (bmc/fdc/fusion.py): radar tracks into system tracks."""

from __future__ import annotations

import numpy as np
import pytest

from bmc.fdc.fusion import SystemTracks
from protocols.messages import Classification, Identity, TrackReport, TrackStatus


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
