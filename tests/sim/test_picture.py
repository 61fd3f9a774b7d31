"""The FDC's air picture: published every assignment period, true to what the FDC sees and does."""

from __future__ import annotations

from typing import Any

import numpy as np

from protocols import messages as m
from tests.sim.conftest import simulate


def _pictures(base: dict[str, Any]) -> tuple[Any, list[tuple[float, m.AirPicture]]]:
    run = simulate(base)
    return run, run.bodies(m.AirPicture)


def test_a_picture_every_assignment_period_on_the_fdc_s_topic(base: dict[str, Any]) -> None:
    base["fdc"] = {"assignment_period_s": 2.0}
    run, pictures = _pictures(base)
    # The first cycle at half a period, then one per period to the end of the run.
    times = [t for t, _ in pictures]
    assert times[0] == 1.0 and times == [1.0 + 2.0 * k for k in range(len(times))]
    assert len(times) == int((base["duration_s"] - 1.0) // 2.0) + 1
    topics = {topic for _, topic, msg in run.log if isinstance(msg.body, m.AirPicture)}
    assert topics == {"bmc/v1/unit/fdc/FDC/picture"}
    assert all(p.time_s == t for t, p in pictures)


def test_the_picture_follows_each_threat_from_first_track_to_kill(base: dict[str, Any]) -> None:
    run, pictures = _pictures(base)
    truth = {t: body for t, body in run.bodies(m.TruthReport)}
    orders = run.bodies(m.FireOrder)
    assert orders and run.report.threats.killed == 3
    seen_engaged: set[int] = set()
    seen_killed: set[int] = set()
    for t, pic in pictures:
        if not len(pic):
            continue
        # Positions agree with the truth the tracks follow (radar noise, tens of metres).
        report = truth[max(k for k in truth if k <= t)]
        index = {oid: i for i, oid in enumerate(report.object_id)}
        for row, oid in enumerate(pic.truth_id):
            if oid in index and report.status[index[oid]] == m.ObjectStatus.ACTIVE:
                moved = report.state[index[oid], 3:] * (t - max(k for k in truth if k <= t))
                error = np.linalg.norm(pic.state[row, :3] - (report.state[index[oid], :3] + moved))
                assert error < 500, (t, oid, error)
        ranks = sorted(r for r in pic.threat_rank.tolist() if r)
        assert ranks == list(range(1, len(ranks) + 1)), "ranks 1..k over the threatening tracks"
        for row in range(len(pic)):
            threatening = pic.threat_rank[row] > 0
            assert (pic.asset_id[row] == "site") == threatening
            state = m.TrackEngagement(int(pic.engagement[row]))
            if state == m.TrackEngagement.ENGAGED:
                seen_engaged.add(int(pic.track_id[row]))
            elif state == m.TrackEngagement.KILLED:
                seen_killed.add(int(pic.track_id[row]))
    targets = {o.target_track_id for _, o in orders}
    assert targets <= seen_engaged, "every targeted track shows ENGAGED while its order is open"
    assert seen_killed and seen_killed <= targets
    # Identification: drones are hostile once held long enough.
    last = [p for _, p in pictures if len(p)][-1]
    assert set(last.identity.tolist()) <= {m.Identity.HOSTILE, m.Identity.PENDING}


def test_a_friend_is_shown_friend_and_never_ranked_engaged(base: dict[str, Any]) -> None:
    base["threats"][0]["friendly"] = True
    run, pictures = _pictures(base)
    friend_rows = [
        (p.identity[i], p.engagement[i])
        for _, p in pictures
        for i, oid in enumerate(p.truth_id)
        if oid == "T0" and p.identity[i] == m.Identity.FRIEND
    ]
    assert friend_rows, "the friend appears in the picture as FRIEND"
    assert all(e == m.TrackEngagement.NONE for _, e in friend_rows)
    assert run.report.friendly_engaged == 0


def test_the_picture_can_be_switched_off_without_changing_the_outcome(base: dict[str, Any]) -> None:
    on = simulate(base)
    base["fdc"] = {"picture": False}
    off = simulate(base)
    assert not off.bodies(m.AirPicture) and on.bodies(m.AirPicture)
    assert on.report.threats == off.report.threats
    assert [o for _, o in on.bodies(m.FireOrder)] == [o for _, o in off.bodies(m.FireOrder)]
