"""The recordings' Foxglove channels: read with the mcap reader, each message valid against
Foxglove's published foxglove.GeoJSON schema (jsonschema), its features where the recording
says (through the scenario's own conversion), and log times on the run's real date."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pymap3d
import pytest
from mcap.reader import make_reader

from bmc.cli import main
from bmc.interop.foxglove import GEOJSON_SCHEMA, PICTURE, SITES, TRUTH
from bmc.scenario import Position, load_scenario
from protocols import codec
from protocols import messages as m
from protocols.recording import read_recording

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "sim_configs" / "single_engagement.yaml"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fox") / "run.mcap"
    assert main(["run", str(SCENARIO), "--record", str(path), "--quiet"]) == 0
    return path


def _geo(path: Path) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Topic -> (log_time, FeatureCollection) of every Foxglove message, schema-checked."""
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    with path.open("rb") as f:
        reader = make_reader(f)
        for schema, channel, message in reader.iter_messages(topics=[SITES, PICTURE, TRUTH]):
            assert (
                schema is not None and schema.name == "foxglove.GeoJSON" and schema.encoding == "jsonschema"
            )
            assert channel.message_encoding == "json"
            body = json.loads(message.data)
            jsonschema.validate(body, json.loads(schema.data))
            collection = json.loads(body["geojson"])
            assert collection["type"] == "FeatureCollection"
            out.setdefault(channel.topic, []).append((message.log_time, collection))
    return out


def test_the_published_schema_is_foxglove_s() -> None:
    schema = json.loads(GEOJSON_SCHEMA)
    assert schema["title"] == "foxglove.GeoJSON" and set(schema["properties"]) == {"geojson"}
    jsonschema.Draft7Validator.check_schema(schema)


def test_picture_truth_and_sites_are_where_the_recording_says(recording: Path) -> None:
    s = load_scenario(SCENARIO)
    geo = _geo(recording)
    rec = read_recording(recording)
    base = rec.base_ns
    assert base > 1_700_000_000 * 10**9
    msgs = [codec.decode(rm.payload) for rm in rec.messages()]
    pictures = {round(x.header.sim_time_s, 6): x.body for x in msgs if isinstance(x.body, m.AirPicture)}
    truth = {round(x.header.sim_time_s, 6): x.body for x in msgs if isinstance(x.body, m.TruthReport)}
    assert len(geo[PICTURE]) == len(pictures) and len(geo[TRUTH]) == len(truth)

    def local(feature: dict[str, Any], up_m: float) -> tuple[float, float, float]:
        lon, lat = feature["geometry"]["coordinates"]
        return s.enu(Position(lat_deg=lat, lon_deg=lon, alt_m=up_m + s.origin.alt_m))

    seen = 0
    for log_time, fc in geo[PICTURE]:
        p = pictures[round((log_time - base) / 1e9, 6)]
        assert [f["properties"]["name"] for f in fc["features"]] == [
            f"track {t}" for t in p.track_id.tolist()
        ]
        for k, f in enumerate(fc["features"]):
            e, n, _u = local(f, float(p.state[k, 2]))
            assert math.hypot(e - p.state[k, 0], n - p.state[k, 1]) < 1.0
            assert f["properties"]["identity"] == m.Identity(int(p.identity[k])).name.lower()
            seen += 1
    assert seen > 20
    for log_time, fc in geo[TRUTH]:
        r = truth[round((log_time - base) / 1e9, 6)]
        active = [
            oid for oid, st in zip(r.object_id, r.status.tolist(), strict=True) if st == m.ObjectStatus.ACTIVE
        ]
        assert [f["properties"]["name"] for f in fc["features"]] == active
    [(_t, sites)] = geo[SITES]
    names = [f["properties"]["name"] for f in sites["features"]]
    ids = [a.id for a in s.assets] + [r.id for r in s.radars] + [x.id for x in s.launchers]
    assert names == [x for i in ids for x in (i, f"{i} range")]
    # A ring lies at its range from its centre (pymap3d's forward conversion, 1 m).
    ring = sites["features"][names.index("L1 range")]
    centre = sites["features"][names.index("L1")]["geometry"]["coordinates"]
    for lon, lat in ring["geometry"]["coordinates"]:
        _az, _el, rng = pymap3d.geodetic2aer(lat, lon, 0.0, centre[1], centre[0], 0.0)
        assert abs(rng - s.launchers[0].max_range_m) < 1.0


def test_the_bus_s_log_leaves_the_foxglove_channels_out(recording: Path) -> None:
    topics = {rm.topic for rm in read_recording(recording).messages()}
    assert topics and not any(t.startswith("/foxglove/") for t in topics)
