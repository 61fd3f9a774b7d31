"""bmc.interop feeds: what each message of the cell becomes (decoded again by libasterix and
by our DIS codec, itself checked against opendis and tshark), track lifecycles, data
sources, values beyond an item's range, entity numbering and ends."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from bmc.interop.asterix_feed import AsterixFeed, parse_categories
from bmc.interop.dis_feed import APPEARANCE_DEACTIVATED, APPEARANCE_DESTROYED, DisFeed, parse_kinds
from bmc.interop.feed import TimeBase
from bmc.scenario import Scenario, load_scenario, parse_scenario
from protocols import dis
from protocols import messages as m
from protocols.topics import parse_topic
from tests.unit.protocols.test_asterix import all_records, flag, present, raw

REPO = Path(__file__).resolve().parents[3]
SCENARIO = load_scenario(REPO / "sim_configs" / "single_engagement.yaml")
EPOCH = 1_767_225_600.0
ROOT = "bmc/v1/single_engagement"


def _msg(sender: str, t: float, body: m.Body) -> m.Message:
    return m.Message(m.Header(sender, 1, t), body)


def _picture(t: float, ids: list[int], up_m: float = 300.0) -> m.AirPicture:
    n = len(ids)
    state = np.array([[1000.0 * i, 2000.0, up_m, -50.0, 10.0, 0.0] for i in ids]).reshape(n, 6)
    return m.AirPicture(
        t,
        np.array(ids),
        state,
        np.full(n, 100.0),
        np.full(n, int(m.Identity.HOSTILE)),
        np.full(n, int(m.Classification.DRONE)),
        np.arange(1, n + 1),
        ("site",) * n,
        np.full(n, int(m.TrackEngagement.NONE)),
        ("",) * n,
    )


def _tracks(t: float, east_m: list[float], status: list[int]) -> m.TrackReport:
    n = len(east_m)
    state = np.array([[e, 1000.0, 300.0, 0.0, 0.0, 0.0] for e in east_m]).reshape(n, 6)
    return m.TrackReport(
        t,
        np.arange(1, n + 1),
        state,
        np.zeros((n, 6, 6)),
        np.array(status),
        np.full(n, int(m.Identity.UNKNOWN)),
        np.full(n, int(m.Classification.UNKNOWN)),
        ("",) * n,
    )


PICTURE = parse_topic(f"{ROOT}/fdc/FDC/picture")
TRACKS = parse_topic(f"{ROOT}/radar/R1/tracks")
TRUTH = parse_topic(f"{ROOT}/world/world/truth")
FLYOUT = parse_topic(f"{ROOT}/world/world/flyout")
DETONATION = parse_topic(f"{ROOT}/world/world/detonation")


def _cat062(feed: AsterixFeed, t: float, ids: list[int], up_m: float = 300.0) -> list[object]:
    assert PICTURE is not None
    out = feed.feed(PICTURE, _msg("FDC", t, _picture(t, ids, up_m)), t)
    return all_records([d.payload for d in out])


def test_track_begin_and_end_flags() -> None:
    feed = AsterixFeed(SCENARIO, TimeBase(EPOCH), categories=frozenset({62}))
    first = _cat062(feed, 1.0, [5, 6])
    assert [raw(r, "040") for r in first] == [5, 6]
    assert [(flag(r, "080", "TSB"), flag(r, "080", "TSE")) for r in first] == [(1, 0), (1, 0)]
    second = _cat062(feed, 2.0, [6])
    # Track 6 goes on; track 5 gets one track-end record, at its last state.
    assert [(raw(r, "040"), flag(r, "080", "TSB"), flag(r, "080", "TSE")) for r in second] == [
        (6, 0, 0),
        (5, 0, 1),
    ]
    assert [raw(r, "040") for r in _cat062(feed, 3.0, [6])] == [6]
    assert feed.records == 5


def test_identity_goes_out_as_mode_4() -> None:
    feed = AsterixFeed(SCENARIO, TimeBase(EPOCH), categories=frozenset({62}))
    picture = _picture(1.0, [1, 2, 3, 4])
    ids = [m.Identity.FRIEND, m.Identity.HOSTILE, m.Identity.UNKNOWN, m.Identity.PENDING]
    picture.identity[:] = [int(i) for i in ids]
    assert PICTURE is not None
    recs = all_records([d.payload for d in feed.feed(PICTURE, _msg("FDC", 1.0, picture), 1.0)])
    # Friendly target, no reply, unknown target, not interrogated.
    assert [flag(r, "080", "MD4") for r in recs] == [1, 3, 2, 0]


def test_a_low_estimate_goes_without_altitude_and_a_far_plot_is_counted_not_sent() -> None:
    feed = AsterixFeed(SCENARIO, TimeBase(EPOCH))
    [rec] = _cat062(feed, 1.0, [9], up_m=-600.0)  # below I062/130's -1,500 ft
    assert "130" not in present(rec) and "220" not in present(rec) and raw(rec, "040") == 9
    assert feed.skipped == {"CAT062 without altitude": 1}
    assert TRACKS is not None
    tracked = [int(m.TrackStatus.CONFIRMED), int(m.TrackStatus.CONFIRMED), int(m.TrackStatus.DROPPED)]
    out = feed.feed(TRACKS, _msg("R1", 4.0, _tracks(4.0, [5_000.0, 600_000.0, 7_000.0], tracked)), 4.0)
    plots = all_records([d.payload for d in out if d.payload[0] == 48])
    # 600 km is beyond CAT048's 256 NM: that plot is not sent; the dropped track's last one has TRE.
    assert [raw(r, "161", "TRN") for r in plots] == [1, 3]
    assert [flag(r, "170", "TRE") for r in plots] == [0, 1]
    assert feed.skipped["CAT048"] == 1


def _two_radars(**r2: object) -> Scenario:
    data = yaml.safe_load((REPO / "sim_configs" / "single_engagement.yaml").read_text())
    extra = copy.deepcopy(data["radars"][0]) | {"id": "R2"} | r2
    data["radars"].append(extra)
    return parse_scenario(data)


def test_radar_data_sources_and_a_clash() -> None:
    feed = AsterixFeed(_two_radars(sac=7, sic=40), TimeBase(EPOCH), sac=3, sic=10)
    assert [(r.sac, r.sic) for r in feed.radars.values()] == [(3, 11), (7, 40)]
    with pytest.raises(ValueError, match=r"radars\[1\] \(R2\): SAC/SIC 3/10 is already the FDC \(CAT062\)'s"):
        AsterixFeed(_two_radars(sac=3, sic=10), TimeBase(EPOCH), sac=3, sic=10)
    with pytest.raises(ValueError, match="unknown ASTERIX category '021'"):
        parse_categories("062,021")
    with pytest.raises(ValueError, match="unknown DIS PDU kind 'signal'"):
        parse_kinds("entity,signal")


def test_sector_crossings_are_due_over_the_scan() -> None:
    feed = AsterixFeed(SCENARIO, TimeBase(EPOCH), categories=frozenset({34}), sectors=4)
    assert TRACKS is not None
    out = feed.feed(TRACKS, _msg("R1", 10.0, _tracks(10.0, [], [])), 10.0)
    period = SCENARIO.radars[0].scan_period_s
    assert [d.time_s for d in out] == [10.0, 10.0 + period / 4, 10.0 + period / 2, 10.0 + 3 * period / 4]
    recs = all_records([d.payload for d in out])
    assert [raw(r, "000") for r in recs] == [1, 2, 2, 2]


def _truth(status: int) -> m.TruthReport:
    return m.TruthReport(
        ("T1",),
        np.array([int(m.Classification.DRONE)]),
        np.array([False]),
        np.array([False]),
        np.array([0.1]),
        np.array([status]),
        np.array([[5000.0, 5000.0, 300.0, -40.0, -30.0, 0.0]]),
    )


def test_dis_entities_shots_and_ends() -> None:
    feed = DisFeed(SCENARIO, TimeBase(EPOCH), exercise_id=9)
    assert TRUTH is not None and FLYOUT is not None and DETONATION is not None
    pdus = [
        dis.decode(d.payload)
        for d in feed.feed(TRUTH, _msg("world", 1.0, _truth(int(m.ObjectStatus.ACTIVE))), 1.0)
    ]
    states = {p.marking: p for _h, p in pdus if isinstance(p, dis.EntityState)}
    assert set(states) == {"T1", "L1"}
    assert states["L1"].entity == dis.EntityId(1, 1, 1) and states["T1"].entity == dis.EntityId(1, 1, 2)
    assert states["T1"].force_id == dis.FORCE_OPPOSING and states["L1"].force_id == dis.FORCE_FRIENDLY
    assert {h.exercise_id for h, _p in pdus} == {9}

    flyout = m.Flyout("L1/o1/1", "o1", "L1", "T1", 2.0, 6.0, (4000.0, 4000.0, 300.0))
    out = feed.feed(FLYOUT, _msg("world", 2.0, flyout), 2.0)
    fire = [p for _h, p in map(dis.decode, (d.payload for d in out)) if isinstance(p, dis.Fire)]
    assert len(fire) == 1
    assert (fire[0].firing, fire[0].target, fire[0].munition) == (
        dis.EntityId(1, 1, 1),
        dis.EntityId(1, 1, 2),
        dis.EntityId(1, 1, 3),
    )
    det = m.Detonation("L1/o1/1", "o1", "T1", "", m.DetonationOutcome.KILL, (4000.0, 4000.0, 300.0))
    out = feed.feed(DETONATION, _msg("world", 6.0, det), 6.0)
    decoded = [p for _h, p in map(dis.decode, (d.payload for d in out))]
    [boom] = [p for p in decoded if isinstance(p, dis.Detonation)]
    assert boom.event == fire[0].event and boom.result == dis.DETONATION_ENTITY_IMPACT
    [missile] = [p for p in decoded if isinstance(p, dis.EntityState)]
    assert missile.entity == dis.EntityId(1, 1, 3) and missile.deactivated

    out = feed.feed(TRUTH, _msg("world", 7.0, _truth(int(m.ObjectStatus.KILLED))), 7.0)
    states = {
        p.marking: p for _h, p in map(dis.decode, (d.payload for d in out)) if isinstance(p, dis.EntityState)
    }
    assert set(states) == {"T1", "L1"}  # the launcher's 5 s heartbeat is due again
    last = states["T1"]
    assert last.appearance == APPEARANCE_DESTROYED | APPEARANCE_DEACTIVATED
    # Ended: no more Entity State for it (nor, within its heartbeat, for the launcher).
    out = feed.feed(TRUTH, _msg("world", 8.0, _truth(int(m.ObjectStatus.KILLED))), 8.0)
    assert out == []
