"""``bmc export``: a recorded engagement as ASTERIX and DIS pcaps, read back by tshark.

Every figure is checked against what the recording itself holds (the FDC's picture, the
radar's reports, truth, flyouts, detonations), converted with the scenario's own forward
conversion (``Scenario.enu``), not with the code under test.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from pathlib import Path
from typing import TypeVar

import numpy as np
import pymap3d
import pytest

from bmc.cli import main
from bmc.scenario import Position, Scenario, load_scenario
from protocols import codec
from protocols import messages as m
from protocols.recording import read_recording
from tests.interop.tshark import tshark_fields

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "sim_configs" / "single_engagement.yaml"
NM = 1852.0
EARTH_RADIUS_M = 6_371_000.0
T = TypeVar("T")
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: every stamp is checkable by hand


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "run.mcap"
    assert main(["run", str(SCENARIO), "--record", str(path), "--quiet"]) == 0
    return path


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(SCENARIO)


def _messages(path: Path) -> list[tuple[str, m.Message]]:
    return [(rm.topic, codec.decode(rm.payload)) for rm in read_recording(path).messages()]


def _export(recording: Path, out: Path, *args: str) -> Path:
    assert main(["export", str(recording), "--out", str(out), "--epoch", str(EPOCH), "--quiet", *args]) == 0
    return out


def _floats(values: list[str]) -> list[float]:
    return [float(v) for v in values]


def _when(row: dict[str, list[str]]) -> float:
    """Simulated time of a packet (to the microsecond a pcap stamp holds)."""
    return float(row["frame.time_epoch"][0]) - EPOCH


class ByTime(dict[float, T]):
    """Values by simulated time, found again from a pcap stamp (within 2 us)."""

    def at(self, t: float) -> T | None:
        keys = self._keys = getattr(self, "_keys", None) or sorted(self)
        i = bisect.bisect_left(keys, t - 2e-6)
        return self[keys[i]] if i < len(keys) and abs(keys[i] - t) <= 2e-6 else None


def _local(s: Scenario, lat: float, lon: float, alt: float) -> tuple[float, float, float]:
    return s.enu(Position(lat_deg=lat, lon_deg=lon, alt_m=alt))


# ---------------------------------------------------------------- ASTERIX


def test_cat062_positions_track_numbers_and_times(
    recording: Path, scenario: Scenario, tmp_path: Path
) -> None:
    pcap = _export(recording, tmp_path / "a.pcap", "--format", "asterix", "--cat", "062")
    rows = tshark_fields(
        pcap,
        [
            "frame.time_epoch",
            "udp.dstport",
            "asterix.category",
            "asterix.062_010_SAC",
            "asterix.062_010_SIC",
            "asterix.062_040_VALUE",
            "asterix.062_070_VALUE",
            "asterix.062_105_LAT",
            "asterix.062_105_LON",
            "asterix.062_080_TSE",
            "asterix.062_080_MD4",
        ],
    )
    pictures = [msg.body for _t, msg in _messages(recording) if isinstance(msg.body, m.AirPicture)]
    expected: ByTime[dict[int, object]] = ByTime()
    for p in pictures:
        expected[p.time_s] = {int(tid): p.state[k] for k, tid in enumerate(p.track_id.tolist())}
    total = sum(len(v) for v in expected.values())
    assert total > 20  # the engagement is seen for a while (else nothing is checked)
    seen = ends = flagged = 0
    for row in rows:
        assert row["udp.dstport"] == ["8600"]
        assert set(row["asterix.category"]) == {"62"}
        assert {int(v, 0) for v in row["asterix.062_010_SAC"] + row["asterix.062_010_SIC"]} == {0, 1}
        t_s = _when(row)
        tods = _floats(row["asterix.062_070_VALUE"])
        # I062/080's extension (TSB/TSE) is present only where one of its bits is set.
        flagged += row["asterix.062_080_TSE"].count("1")
        for k, tid in enumerate(row["asterix.062_040_VALUE"]):
            assert abs(tods[k] - t_s % 86400) <= 1 / 128 + 1e-6
            state = (expected.at(t_s) or {}).get(int(tid, 0))
            if state is None:
                ends += 1  # the track-end record of a track gone from this picture
                continue
            lat, lon = float(row["asterix.062_105_LAT"][k]), float(row["asterix.062_105_LON"][k])
            # The track's height: the tangent-plane projection depends on it.
            east, north, up = state[:3]  # type: ignore[index]
            e, n, _u = _local(scenario, lat, lon, float(up) + scenario.origin.alt_m)
            assert math.hypot(e - east, n - north) < 1.0, (tid, t_s, e, n, east, north)
            seen += 1
    assert seen == total
    gone = sum(
        1
        for a, b in itertools.pairwise(pictures)
        for t in set(a.track_id.tolist()) - set(b.track_id.tolist())
    )
    assert ends == flagged == gone >= 1  # the drone is killed: its track ends
    # Identity as I062/080 MD4 (present only when not 0): one "no reply" per hostile record.
    md4 = [v for row in rows for v in row["asterix.062_080_MD4"] if v != "0"]
    hostile = sum(int(np.count_nonzero(p.identity == m.Identity.HOSTILE)) for p in pictures)
    assert md4.count("3") >= hostile > 0 and "1" not in md4  # no friend in this scenario


def test_cat048_polar_agrees_with_the_radar_report(
    recording: Path, scenario: Scenario, tmp_path: Path
) -> None:
    pcap = _export(recording, tmp_path / "b.pcap", "--format", "asterix", "--cat", "048")
    rows = tshark_fields(
        pcap,
        [
            "frame.time_epoch",
            "asterix.048_010_SIC",
            "asterix.048_161_TRN",
            "asterix.048_040_RHO",
            "asterix.048_040_THETA",
            "asterix.048_170_TRE",
        ],
    )
    radar = scenario.radars[0]
    re, rn, ru = scenario.enu(radar.position)
    reports: ByTime[m.TrackReport] = ByTime(
        (msg.body.scan_time_s, msg.body)
        for topic, msg in _messages(recording)
        if isinstance(msg.body, m.TrackReport) and topic.endswith("/R1/tracks")
    )
    checked = 0
    for row in rows:
        assert {int(v, 0) for v in row["asterix.048_010_SIC"]} == {2}  # --sic 1 + 1 + index 0
        report = reports.at(_when(row))
        assert report is not None
        live = range(len(report))  # a dropped track's last report is flagged TRE, not left out
        assert [int(x, 0) for x in row["asterix.048_161_TRN"]] == [int(report.track_id[k]) for k in live]
        for j, k in enumerate(live):
            de, dn, du = (report.state[k, 0] - re, report.state[k, 1] - rn, report.state[k, 2] - ru)
            ground, flat = math.hypot(de, dn), math.sqrt(de * de + dn * dn + du * du)
            flat_az = math.degrees(math.atan2(de, dn)) % 360
            rho_m = float(row["asterix.048_040_RHO"][j]) * NM
            theta = float(row["asterix.048_040_THETA"][j])
            # ASTERIX's slant range is between the geodetic points; our flat frame puts a point
            # h up at distance d out by h*d/R more than the earth does (docs/INTEROP.md): one
            # LSB (1/256 NM) plus that bound (42 m measured at 62 km and 9 km up; 0.7 m at 300 m).
            assert abs(rho_m - flat) < NM / 256 + 1.0 + abs(du) * ground / EARTH_RADIUS_M, (rho_m, flat)
            assert abs((theta - flat_az + 180) % 360 - 180) < 0.05, (theta, flat_az)
            checked += 1
    assert checked > 20
    # I048/170's extension (TRE) is sent only for a track's last report: one per dropped track.
    dropped = sum(int(np.count_nonzero(r.status == m.TrackStatus.DROPPED)) for r in reports.values())
    assert sum(row["asterix.048_170_TRE"].count("1") for row in rows) == dropped >= 1


def test_cat034_north_marker_and_sectors_every_scan(recording: Path, tmp_path: Path) -> None:
    pcap = _export(recording, tmp_path / "c.pcap", "--format", "asterix", "--cat", "034", "--sectors", "4")
    rows = tshark_fields(
        pcap, ["frame.time_epoch", "asterix.034_000_VALUE", "asterix.034_020_VALUE", "asterix.034_030_VALUE"]
    )
    scans = [
        msg.body.scan_time_s for topic, msg in _messages(recording) if isinstance(msg.body, m.TrackReport)
    ]
    kinds = Counter(row["asterix.034_000_VALUE"][0] for row in rows)
    assert kinds == {"1": len(scans), "2": 3 * len(scans)}
    north = [float(r["frame.time_epoch"][0]) - EPOCH for r in rows if r["asterix.034_000_VALUE"] == ["1"]]
    assert north == pytest.approx(sorted(scans), abs=1e-6)
    sectors = [float(r["asterix.034_020_VALUE"][0]) for r in rows if r["asterix.034_000_VALUE"] == ["2"]]
    assert Counter(sectors) == {90.0: len(scans), 180.0: len(scans), 270.0: len(scans)}
    for r in rows:
        assert (
            abs(float(r["asterix.034_030_VALUE"][0]) - (float(r["frame.time_epoch"][0]) % 86400)) <= 1 / 128
        )


# ---------------------------------------------------------------- DIS


def test_dis_entities_fire_and_detonation(recording: Path, scenario: Scenario, tmp_path: Path) -> None:
    pcap = _export(recording, tmp_path / "d.pcap", "--format", "dis", "--exercise-id", "7")
    rows = tshark_fields(
        pcap,
        [
            "frame.time_epoch",
            "udp.dstport",
            "dis.exer_id",
            "dis.pdu_type",
            "dis.entity_id_entity",
            "dis.entity_marking",
            "dis.entity_location.x",
            "dis.entity_location.y",
            "dis.entity_location.z",
            "dis.fire.location.x",
            "dis.detonation.result",
        ],
    )
    msgs = _messages(recording)
    truth: ByTime[m.TruthReport] = ByTime(
        (msg.header.sim_time_s, msg.body) for _t, msg in msgs if isinstance(msg.body, m.TruthReport)
    )
    flyouts = [msg.body for _t, msg in msgs if isinstance(msg.body, m.Flyout)]
    detonations = [
        (msg.header.sim_time_s, msg.body) for _t, msg in msgs if isinstance(msg.body, m.Detonation)
    ]
    assert flyouts and detonations
    threats, checked = set(), 0
    for row in rows:
        assert row["udp.dstport"] == ["3000"] and row["dis.exer_id"] == ["7"]
        t_s = _when(row)
        if row["dis.pdu_type"] != ["1"]:
            continue
        marking = row["dis.entity_marking"][0]
        report = truth.at(t_s)
        if report is None or marking not in report.object_id:
            continue
        k = report.object_id.index(marking)
        threats.add(row["dis.entity_id_entity"][0])
        xyz = [float(row[f"dis.entity_location.{a}"][0]) for a in "xyz"]
        lat, lon, h = pymap3d.ecef2geodetic(*xyz)
        e, n, u = _local(scenario, float(lat), float(lon), float(h))
        assert math.dist((e, n, u), report.state[k, :3].tolist()) < 1.0, (marking, t_s)
        checked += 1
    assert checked > 30  # every truth report while the drone flies (~60 s)
    assert len(threats) == len(scenario.threats)  # one entity per truth object
    fires = [float(r["frame.time_epoch"][0]) - EPOCH for r in rows if r["dis.pdu_type"] == ["2"]]
    assert fires == pytest.approx(sorted(f.launch_time_s for f in flyouts), abs=1e-6)
    dets = [
        (float(r["frame.time_epoch"][0]) - EPOCH, r["dis.detonation.result"][0])
        for r in rows
        if r["dis.pdu_type"] == ["3"]
    ]
    want = sorted(
        (t, "1" if d.outcome == m.DetonationOutcome.KILL else "5") for t, d in detonations if d.interceptor_id
    )
    assert [d[1] for d in dets] == [w[1] for w in want]
    assert [d[0] for d in dets] == pytest.approx([w[0] for w in want], abs=1e-6)


def test_export_of_a_damaged_recording_keeps_what_is_readable(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = recording.read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: len(data) * 9 // 10])  # into the last chunk: the first ones stay whole
    out = tmp_path / "cut.pcap"
    assert main(["export", str(cut), "--format", "dis", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "recording damaged, exported what was readable" in said
    rows = tshark_fields(out, ["dis.pdu_type"])
    assert len(rows) > 0


def test_export_refuses_bad_options(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.pcap"
    with pytest.raises(SystemExit) as exc:
        main(["export", str(recording), "--format", "asterix", "--out", str(out), "--cat", "062,021"])
    assert exc.value.code == 2
    assert "unknown ASTERIX category '021'" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none.mcap"), "--format", "dis", "--out", str(out)]) == 2
    assert "none.mcap" in capsys.readouterr().err
