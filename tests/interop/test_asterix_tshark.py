"""Wireshark reads our ASTERIX: ``tshark`` 4.0 dissects the gateway's datagrams with its
default editions (the ones :mod:`protocols.asterix` writes), without a malformed packet, and
shows the values we put in (degrees, NM, seconds as it prints them)."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

from protocols import asterix as ax
from protocols.asterix import SystemTrack, TargetReport
from tests.interop.tshark import pcap_of, tshark_fields, tshark_path

PORT = 8600  # tshark's registered ASTERIX port; decoded as ASTERIX explicitly all the same
DECODE_AS = f"udp.port=={PORT},asterix"
NM = 1852.0
EARTH_M_PER_DEG = 111_320.0  # at the equator; a metre bound needs no better


def test_tshark_s_default_editions_are_the_ones_we_write() -> None:
    out = subprocess.run(
        [tshark_path(), "-G", "defaultprefs"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    defaults = dict(re.findall(r"#asterix\.i(\d{3})_version: Version (\S+)", out))
    assert defaults["062"] == ax.CAT062_EDITION
    assert defaults["048"] == ax.CAT048_EDITION
    assert defaults["034"] == ax.CAT034_EDITION


def _tracks(n: int, first_number: int = 0) -> list[SystemTrack]:
    return [
        SystemTrack(
            track_number=first_number + k,
            time_of_day_s=43_200.0 + 0.37 * k,
            lat_deg=59.91 + 0.0123 * k,
            lon_deg=10.75 - 0.0456 * k,
            x_m=-12_345.6 + 1000.3 * k,
            y_m=23_456.7 - 500.1 * k,
            v_east_mps=240.13 - 3.3 * k,
            v_north_mps=-35.4 + 1.1 * k,
            altitude_m=3000.0 + 10.0 * k,
            rate_of_climb_mps=-2.5,
            confirmed=k % 2 == 0,
            coasting=k % 3 == 0,
            first=k == 0,
            mode_3a=0o1200 + k,
            callsign=f"NOR{k:03d}",
        )
        for k in range(n)
    ]


def test_cat062_tracks_read_back_from_several_records_per_datagram(tmp_path: Path) -> None:
    tracks = _tracks(5)
    datagrams = ax.encode_cat062(25, 7, tracks) + ax.encode_cat062(25, 7, _tracks(70, first_number=100))
    assert len(datagrams) == 1 + 3  # five in one, seventy over three
    fields = [
        "asterix.category",
        "asterix.062_010_SAC",
        "asterix.062_010_SIC",
        "asterix.062_015_VALUE",
        "asterix.062_040_VALUE",
        "asterix.062_070_VALUE",
        "asterix.062_105_LAT",
        "asterix.062_105_LON",
        "asterix.062_100_X",
        "asterix.062_100_Y",
        "asterix.062_185_VX",
        "asterix.062_185_VY",
        "asterix.062_130_VALUE",
        "asterix.062_080_CNF",
        "asterix.062_080_CST",
        "asterix.062_080_TSB",
        "asterix.062_060_MODE3A",
        "asterix.062_245_STI",
        "asterix.062_245_CHR",
    ]
    rows = tshark_fields(pcap_of(tmp_path, datagrams, PORT), fields, decode_as=DECODE_AS)
    assert len(rows) == len(datagrams)
    first = rows[0]
    assert first["asterix.category"] == ["62"]
    # tshark prints SAC, SIC, the service and the track number as hex (BASE_HEX_DEC): int(v, 0).
    assert [int(v, 0) for v in first["asterix.062_040_VALUE"]] == [t.track_number for t in tracks]
    assert {int(v, 0) for f in ("010_SAC", "010_SIC", "015_VALUE") for v in first[f"asterix.062_{f}"]} == {
        25,
        7,
        1,
    }
    for k, t in enumerate(tracks):
        dlat_m = (float(first["asterix.062_105_LAT"][k]) - t.lat_deg) * EARTH_M_PER_DEG
        dlon_m = (
            (float(first["asterix.062_105_LON"][k]) - t.lon_deg)
            * EARTH_M_PER_DEG
            * math.cos(math.radians(t.lat_deg))
        )
        assert math.hypot(dlat_m, dlon_m) < 1.0, (k, dlat_m, dlon_m)
        assert abs(float(first["asterix.062_070_VALUE"][k]) - t.time_of_day_s) <= 1 / 256
        assert abs(float(first["asterix.062_100_X"][k]) - t.x_m) <= 0.25
        assert abs(float(first["asterix.062_100_Y"][k]) - t.y_m) <= 0.25
        assert abs(float(first["asterix.062_185_VX"][k]) - t.v_east_mps) <= 0.125
        assert abs(float(first["asterix.062_185_VY"][k]) - t.v_north_mps) <= 0.125
        assert t.altitude_m is not None
        assert abs(float(first["asterix.062_130_VALUE"][k]) * 0.3048 - t.altitude_m) <= 6.25 * 0.3048 / 2
        # BASE_OCT, yet -T fields prints the Mode 3/A code in decimal.
        assert int(first["asterix.062_060_MODE3A"][k]) == t.mode_3a
        assert first["asterix.062_245_CHR"][k] == (t.callsign or "").ljust(8)
    assert first["asterix.062_245_STI"] == ["1"] * 5  # callsign not downlinked: the system assigns it
    assert first["asterix.062_080_CNF"] == [str(int(not t.confirmed)) for t in tracks]
    # CST sits in the fourth octet of I062/080, TSB in the second: only the records that
    # extend that far show them, so compare the values of those records in order.
    assert first["asterix.062_080_CST"] == [str(int(t.coasting)) for t in tracks if t.coasting]
    assert first["asterix.062_080_TSB"] == [str(int(t.first)) for t in tracks if t.first or t.coasting]
    numbers = [int(v, 0) for row in rows[1:] for v in row["asterix.062_040_VALUE"]]
    assert numbers == list(range(100, 170))


def test_cat048_reports_read_back_in_nm_and_degrees(tmp_path: Path) -> None:
    reports = [
        TargetReport(
            time_of_day_s=100.0 + 4.7 * k,
            range_m=1234.5 + 45_678.9 * k,
            azimuth_deg=(37.3 + 71.9 * k) % 360,
            track_number=4095 - k,
            x_m=-5000.0 + 7000.0 * k,
            y_m=3000.0 - 2500.0 * k,
            ground_speed_mps=250.0 + 10.0 * k,
            heading_deg=10.0 * k,
            height_m=4000.0 + 100.0 * k,
            coasting=k == 2,
            mode_3a=0o7000 + k,
        )
        for k in range(6)
    ]
    fields = [
        "asterix.048_010_SAC",
        "asterix.048_140_VALUE",
        "asterix.048_020_TYP",
        "asterix.048_040_RHO",
        "asterix.048_040_THETA",
        "asterix.048_161_TRN",
        "asterix.048_042_X",
        "asterix.048_042_Y",
        "asterix.048_200_GSP",
        "asterix.048_200_HDG",
        "asterix.048_110_3DH",
        "asterix.048_170_CNF",
        "asterix.048_170_RAD",
        "asterix.048_070_MODE3A",
    ]
    [row] = tshark_fields(
        pcap_of(tmp_path, ax.encode_cat048(3, 4, reports), PORT), fields, decode_as=DECODE_AS
    )
    assert [int(v) for v in row["asterix.048_161_TRN"]] == [r.track_number for r in reports]
    assert [int(v, 0) for v in row["asterix.048_010_SAC"]] == [3] * 6
    assert row["asterix.048_020_TYP"] == ["1", "1", "0", "1", "1", "1"]
    assert row["asterix.048_170_RAD"] == ["1"] * 6 and row["asterix.048_170_CNF"] == ["0"] * 6
    assert [int(v) for v in row["asterix.048_070_MODE3A"]] == [r.mode_3a for r in reports]
    for k, r in enumerate(reports):
        assert abs(float(row["asterix.048_040_RHO"][k]) - r.range_m / NM) <= 1 / 256
        theta = (float(row["asterix.048_040_THETA"][k]) - r.azimuth_deg) % 360
        assert min(theta, 360 - theta) <= 360 / 2**16
        assert abs(float(row["asterix.048_140_VALUE"][k]) - r.time_of_day_s) <= 1 / 128
        assert r.x_m is not None and r.y_m is not None and r.ground_speed_mps is not None
        assert abs(float(row["asterix.048_042_X"][k]) - r.x_m / NM) <= 1 / 128
        assert abs(float(row["asterix.048_042_Y"][k]) - r.y_m / NM) <= 1 / 128
        assert abs(float(row["asterix.048_200_GSP"][k]) - r.ground_speed_mps / NM) <= 2**-14
        assert abs(float(row["asterix.048_200_HDG"][k]) - (r.heading_deg or 0.0)) <= 360 / 2**16
        assert r.height_m is not None
        assert abs(float(row["asterix.048_110_3DH"][k]) * 0.3048 - r.height_m) <= 25 * 0.3048


def test_cat034_north_markers_and_sector_crossings(tmp_path: Path) -> None:
    datagrams = [
        ax.encode_cat034_north_marker(3, 4, 3600.0, rotation_period_s=4.5),
        ax.encode_cat034_sector(3, 4, 3601.125, 45.0),
        ax.encode_cat034_sector(3, 4, 3602.25, 274.0),
        ax.encode_cat034_north_marker(3, 4, 86399.5),
    ]
    fields = [
        "asterix.034_010_SAC",
        "asterix.034_000_VALUE",
        "asterix.034_030_VALUE",
        "asterix.034_020_VALUE",
        "asterix.034_041_VALUE",
    ]
    rows = tshark_fields(pcap_of(tmp_path, datagrams, PORT), fields, decode_as=DECODE_AS)
    assert [r["asterix.034_000_VALUE"] for r in rows] == [["1"], ["2"], ["2"], ["1"]]
    assert [float(r["asterix.034_030_VALUE"][0]) for r in rows] == [3600.0, 3601.125, 3602.25, 86399.5]
    assert rows[0]["asterix.034_041_VALUE"] == ["4.5"] and rows[3]["asterix.034_041_VALUE"] == []
    assert float(rows[1]["asterix.034_020_VALUE"][0]) == 45.0
    # 274° is sent to the nearest 360/256° (1.40625°): 195 LSB = 274.21875° (truncation: 194).
    assert float(rows[2]["asterix.034_020_VALUE"][0]) == 274.21875
    assert all(int(r["asterix.034_010_SAC"][0], 0) == 3 for r in rows)
