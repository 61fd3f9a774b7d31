"""Recordings of virtual runs: read back by the ``mcap`` library itself, the after-action report
from the recording alone, damaged files, and the recorded inputs replayed into a fresh FDC."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.image import imread
from matplotlib.lines import Line2D
from matplotlib.patches import Circle
from mcap.reader import make_reader
from mcap_protobuf.decoder import DecoderFactory

import bmc
from bmc import aar
from bmc.cli import main
from bmc.replay import replay_into_fdc
from protocols import codec
from protocols import messages as m
from protocols.logrecord import log_record
from protocols.recording import RecordingError, read_recording

ROOT = Path(__file__).resolve().parents[2]
SIM_CONFIGS = ROOT / "sim_configs"
SCENARIOS = ("single_engagement", "belgium_nasams")


def _without_wall_time(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "wall_time_s"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Each scenario run once with ``bmc run --record --json``: (recording, live report)."""
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    d = tmp_path_factory.mktemp("recordings")
    for name in SCENARIOS:
        rec, js = d / f"{name}.mcap", d / f"{name}.json"
        code = main(
            ["run", str(SIM_CONFIGS / f"{name}.yaml"), "--record", str(rec), "--json", str(js), "--quiet"]
        )
        assert code in (0, 1)
        out[name] = (rec, json.loads(js.read_text(encoding="utf-8")))
    return out


def _bmc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bmc", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ---------------------------------------------------------------- read back by a standard MCAP reader


@pytest.mark.parametrize("name", SCENARIOS)
def test_mcap_library_reads_back_every_message_and_the_digest(
    recorded: dict[str, tuple[Path, dict[str, Any]]], name: str
) -> None:
    path, live = recorded[name]
    digest = hashlib.sha256()
    count = 0
    with path.open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        assert summary is not None
        schemas = sorted(s.name for s in summary.schemas.values())
        assert schemas == ["bmc.v1.Envelope", "foxglove.GeoJSON", "foxglove.GeoJSON", "foxglove.GeoJSON"]
        bus = sorted(c.topic for c in summary.channels.values() if c.message_encoding == "protobuf")
        extra = {c.topic: c.message_encoding for c in summary.channels.values() if c.topic not in bus}
        assert extra == {"/foxglove/sites": "json", "/foxglove/picture": "json", "/foxglove/truth": "json"}
        meta = {md.name: md.metadata for md in reader.iter_metadata()}
        base = int(meta["bmc.recording"]["log_time_base_ns"])
        assert base > 1_700_000_000 * 10**9  # anchored at the run's real start: Foxglove shows its date
        # One sequence over the bus's messages and the extra channels'.
        sequences = [msg.sequence for _s, _c, msg in reader.iter_messages(log_time_order=False)]
        assert sequences == list(range(len(sequences)))
        for schema, channel, message, envelope in reader.iter_decoded_messages(
            topics=bus, log_time_order=False
        ):
            assert schema is not None and schema.name == "bmc.v1.Envelope"
            # The embedded schema decodes the payload without our code; the header holds the
            # exact simulated time the digest hashes, log_time the start plus it in integer ns.
            t = envelope.header.sim_time_s
            assert abs(message.log_time - base - t * 1e9) <= 1.0
            digest.update(log_record(t, channel.topic, message.data))
            count += 1
    assert count == live["messages"]["published"]
    assert summary.statistics is not None and summary.statistics.message_count == len(sequences)
    assert digest.hexdigest() == live["digest"]
    scenario = meta["bmc.scenario"]
    assert scenario["name"] == live["scenario"] and scenario["seed"] == str(live["seed"])
    assert scenario["yaml"] == (SIM_CONFIGS / f"{name}.yaml").read_text(encoding="utf-8")
    assert meta["bmc.run"]["status"] == "complete"


def test_recording_does_not_change_the_run(recorded: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    from bmc.engine.runner import run_virtual
    from bmc.scenario import load_scenario

    plain = run_virtual(load_scenario(SIM_CONFIGS / "single_engagement.yaml")).to_dict()
    assert _without_wall_time(plain) == _without_wall_time(recorded["single_engagement"][1])


# ---------------------------------------------------------------- after-action report


@pytest.mark.parametrize("name", SCENARIOS)
def test_report_from_recording_equals_the_live_report(
    recorded: dict[str, tuple[Path, dict[str, Any]]], name: str
) -> None:
    path, live = recorded[name]
    assert _without_wall_time(aar.report_from_recording(path).to_dict()) == _without_wall_time(live)


def test_bmc_report_writes_the_report_map_timeline_and_page(
    recorded: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, live = recorded["belgium_nasams"]
    out = tmp_path / "aar"
    assert main(["report", str(path), "--out", str(out)]) == 0
    assert "report.html" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert _without_wall_time(report) == _without_wall_time(live)
    for png in ("map.png", "timeline.png"):
        img = imread(out / png)
        assert img.shape[0] > 400 and img.shape[1] > 600, png
        colours = np.unique(img[..., :3].reshape(-1, 3), axis=0)
        assert len(colours) > 50, f"{png} is (nearly) blank: {len(colours)} colours"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2
    assert "belgium_nasams" in page and f"seed {live['seed']}" in page
    orders = json.loads(json.dumps(live))["missiles_fired"]
    assert orders > 0
    assert page.count("<td>FDC-") >= live["threats"]["killed"]  # one table row per fire order at least
    # A missile whose seeker locked nothing says why its miss has no target.
    from bmc.aar.page import NO_TARGET

    blind = sum(1 for e in aar.analyse(path).engagements.values() if e.launched and not e.target_object)
    assert page.count(NO_TARGET.split(",")[0]) == blind >= 1


def test_map_shows_every_object_asset_radar_launcher_and_outcome(
    recorded: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    path, live = recorded["belgium_nasams"]
    a = aar.analyse(path)
    assert a.scenario is not None
    fig = aar.map_figure(a)
    (ax,) = fig.axes
    lines = [x for x in ax.lines if isinstance(x, Line2D)]
    # One truth path per air object that flew, one line per fused system track.
    assert len(a.truth) == live["threats"]["total"] + 1  # plus the friendly transport
    assert len(lines) == len(a.truth) + len(a.system_tracks)
    assert len(a.system_tracks) >= live["threats"]["total"]
    circles = [p for p in ax.patches if isinstance(p, Circle)]
    assert len([c for c in circles if c.get_fill()]) == len(a.scenario.assets)
    # A ring per radar (its instrumented range) and per launcher (its envelope), in km.
    rings = sorted(round(c.get_radius(), 6) for c in circles if not c.get_fill())
    want = [r.max_range_m / 1e3 for r in a.scenario.radars] + [
        x.max_range_m / 1e3 for x in a.scenario.launchers
    ]
    assert rings == sorted(round(w, 6) for w in want)
    # Every id is written on the map (placed apart by adjustText).
    ids = (
        {x.id for x in a.scenario.assets}
        | {r.id for r in a.scenario.radars}
        | {x.id for x in a.scenario.launchers}
    )
    assert ids <= {t.get_text() for t in ax.texts}
    scatters = {c.get_label(): len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection)}
    assert scatters["radar"] == len(a.scenario.radars)
    assert scatters["launcher"] == len(a.scenario.launchers)
    assert scatters["kill"] == live["threats"]["killed"]
    misses = sum(1 for _, d in a.detonations if d.outcome == m.DetonationOutcome.MISS)
    assert scatters.get("miss", 0) == misses == live["missiles_fired"] - live["threats"]["killed"]
    assert scatters.get("leaker impact", 0) == live["threats"]["leaked"]


def test_timeline_marks_orders_launches_and_outcomes(
    recorded: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    path, live = recorded["belgium_nasams"]
    a = aar.analyse(path)
    fig = aar.timeline_figure(a)
    top, bottom = fig.axes
    scatters = {c.get_label(): len(c.get_offsets()) for c in top.collections}
    assert scatters["order"] == len(a.engagements) > 0
    assert scatters["launch"] == sum(1 for e in a.engagements.values() if e.launched)
    assert scatters["kill"] == live["threats"]["killed"]
    assert [t.get_text() for t in top.get_yticklabels()] == [x.id for x in a.scenario.launchers]  # type: ignore[union-attr]
    # One bar per detected object plus one outcome marker per killed or leaked object.
    detected = len(a.first_detection_s)
    assert len(bottom.lines) == detected + live["threats"]["killed"] + live["threats"]["leaked"]
    rows = {e.order_id: e for e in a.engagements.values()}
    assert sum(e.kills for e in rows.values()) == live["threats"]["killed"]


# ---------------------------------------------------------------- damaged recordings


def _all(path: Path) -> list[tuple[float, str, bytes]]:
    return [(x.time_s, x.topic, x.payload) for x in read_recording(path).messages()]


def _partial(path: Path) -> tuple[list[tuple[float, str, bytes]], str]:
    got: list[tuple[float, str, bytes]] = []
    rec = read_recording(path)
    with pytest.raises(RecordingError) as err:
        for x in rec.messages():
            got.append((x.time_s, x.topic, x.payload))
    return got, str(err.value)


def test_truncated_recording_gives_its_readable_part_and_says_where_it_stops(
    recorded: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    path, _live = recorded["belgium_nasams"]
    full = _all(path)
    data = path.read_bytes()
    half = tmp_path / "half.mcap"
    half.write_bytes(data[: len(data) // 2])
    rec = read_recording(half)
    assert not rec.complete
    assert rec.meta("bmc.scenario")["name"] == "belgium_nasams"  # written first, still readable
    got, error = _partial(half)
    assert len(full) // 4 < len(got) < len(full)
    assert got == full[: len(got)]  # exactly the recording's beginning
    assert str(half) in error and "truncated" in error and f"of {len(data) // 2:,}" in error
    assert "\n" not in error
    partial = aar.report_from_recording(half)
    assert partial.recording_problems and partial.messages["published"] == len(got)


def test_corrupt_chunk_is_skipped_and_reported_the_rest_is_read(
    recorded: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    path, _live = recorded["belgium_nasams"]
    full = _all(path)
    data = bytearray(path.read_bytes())
    with path.open("rb") as f:
        summary = make_reader(f).get_summary()
    assert summary is not None and len(summary.chunk_indexes) >= 4
    chunk = summary.chunk_indexes[len(summary.chunk_indexes) // 2]
    middle = chunk.chunk_start_offset + chunk.chunk_length // 2
    data[middle : middle + 64] = bytes(b ^ 0x5A for b in data[middle : middle + 64])
    bad = tmp_path / "corrupt.mcap"
    bad.write_bytes(bytes(data))
    got, error = _partial(bad)
    assert 0 < len(got) < len(full)
    assert set(got) < set(full)
    assert got[-1] == full[-1]  # read on past the damaged chunk, to the end
    assert f"chunk at byte {chunk.chunk_start_offset:,}" in error
    # The damaged chunk's bus messages are lost, and with them its Foxglove channels' (a reader
    # cannot tell which they were): the count covers both.
    lost = int(re.search(r"([\d,]+) message\(s\) lost", error).group(1).replace(",", ""))  # type: ignore[union-attr]
    with path.open("rb") as f:
        stats = make_reader(f).get_summary().statistics  # type: ignore[union-attr]
    assert stats is not None
    extra = stats.message_count - len(full)
    assert len(full) - len(got) <= lost <= len(full) - len(got) + extra


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"this is not a recording\n", "not an MCAP file"),
        (b"\x89MCAP0\r\n", "truncated"),
    ],
)
def test_unreadable_files_give_one_clear_line_exit_2(tmp_path: Path, content: bytes, expected: str) -> None:
    bad = tmp_path / "bad.mcap"
    bad.write_bytes(content)
    for args in (("report", str(bad), "--out", str(tmp_path / "out")), ("replay", str(bad), "--into", "fdc")):
        done = _bmc(*args)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"bmc: {bad}") and expected in lines[0], done.stderr


def test_cli_on_a_truncated_recording_writes_what_it_can_and_exits_2(
    recorded: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    path, _live = recorded["belgium_nasams"]
    data = path.read_bytes()
    half = tmp_path / "half.mcap"
    half.write_bytes(data[: len(data) // 2])
    out = tmp_path / "aar"
    done = _bmc("report", str(half), "--out", str(out), "--quiet")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "truncated" in lines[0] and "readable part" in lines[0], done.stderr
    for name in ("report.json", "map.png", "timeline.png", "report.html"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["recording_problems"]

    done = _bmc("replay", str(half), "--into", "fdc")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "identical" in done.stdout  # the readable part gives the same fire orders
    assert done.stderr.strip().splitlines()[-1].startswith(f"bmc: {half}: damaged recording")


def test_recording_to_an_unwritable_path_is_one_line_exit_2(tmp_path: Path) -> None:
    done = _bmc(
        "run", str(SIM_CONFIGS / "single_engagement.yaml"), "--record", str(tmp_path / "no" / "x.mcap")
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"bmc: {tmp_path / 'no' / 'x.mcap'}: cannot write recording: No such file or directory"
    )


# ---------------------------------------------------------------- replay into a fresh FDC


def test_recorded_inputs_into_a_fresh_fdc_reproduce_the_fire_orders_exactly(
    recorded: dict[str, tuple[Path, dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, live = recorded["belgium_nasams"]
    result = replay_into_fdc(path)
    assert result.identical, result.differences
    assert len({s.order.order_id for s in result.recorded}) >= live["threats"]["killed"]
    assert [(s.time_s, s.order) for s in result.replayed] == [(s.time_s, s.order) for s in result.recorded]
    assert main(["replay", str(path), "--into", "fdc"]) == 0
    assert "identical" in capsys.readouterr().out


def test_another_doctrine_reports_the_differences(
    recorded: dict[str, tuple[Path, dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _live = recorded["belgium_nasams"]
    assert main(["replay", str(path), "--into", "fdc", "--doctrine", "salvo-2"]) == 1
    out = capsys.readouterr().out
    assert "order(s) differ" in out
    assert "FDC-00001" in out and "rounds 1 -> 2" in out
    result = replay_into_fdc(path, ["fdc.doctrine=salvo-2"])
    assert not result.identical
    assert all(s.order.rounds == 2 for s in result.replayed)


def test_bad_override_is_one_line_exit_2(
    recorded: dict[str, tuple[Path, dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _live = recorded["single_engagement"]
    assert main(["replay", str(path), "--into", "fdc", "--set", "fdc.doctrine=salvo-99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fdc.doctrine" in err[0] and "salvo-99" in err[0], err


def test_the_page_shows_a_recordings_text_as_text(tmp_path: Path) -> None:
    # A scenario file name is the user's, and it lands in the page: it must stay text.
    scenario = tmp_path / "x<img src=x onerror=alert(1)>.yaml"
    scenario.write_text(
        (SIM_CONFIGS / "single_engagement.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    rec = tmp_path / "r.mcap"
    assert main(["run", str(scenario), "--record", str(rec), "--quiet"]) == 0
    out = tmp_path / "aar"
    assert main(["report", str(rec), "--out", str(out), "--quiet"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page
    assert "x&lt;img src=x onerror=alert(1)&gt;.yaml" in page
    assert page.count("<tr><td>FDC-") == 2  # single_engagement: two orders, one row each


def test_the_recorded_air_picture_drives_the_map_and_decodes_with_protoc(
    recorded: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    path, live = recorded["belgium_nasams"]
    rec = read_recording(path)
    pictures = [r for r in rec.messages() if r.topic.endswith("/fdc/FDC/picture")]
    assert len(pictures) == live["sim_time_s"]  # one per assignment period (1 s), from 0.5 s
    a = aar.analyse(path)
    assert a.picture_recorded
    shown: set[int] = set()
    for r in pictures:
        body = codec.decode(r.payload).body
        assert isinstance(body, m.AirPicture)
        shown.update(body.track_id.tolist())
    assert set(a.system_tracks) == shown  # the map's system tracks are the picture's
    targets = {row.target_track_id for row in a.engagements.values()}
    assert targets and targets <= shown
    # An independent decoder reads the recorded bytes as the schema says.
    busy = max(pictures, key=lambda r: len(codec.decode(r.payload).body))
    proto = ROOT / "protocols" / "proto"
    done = subprocess.run(
        ["protoc", "--decode", "bmc.v1.Envelope", "-I", str(proto), str(proto / "bmc_v1.proto")],
        input=busy.payload,
        capture_output=True,
        timeout=30,
        check=True,
    )
    text = done.stdout.decode()
    first = codec.decode(busy.payload).body
    assert isinstance(first, m.AirPicture)
    assert "air_picture {" in text and f"track_id: {int(first.track_id[0])}" in text
    assert "engagement: TRACK_ENGAGEMENT_" in text and "asset_id: " in text


def test_a_recording_without_a_picture_falls_back_to_re_fusing_the_radar_tracks(tmp_path: Path) -> None:
    rec = tmp_path / "off.mcap"
    bmc.run(SIM_CONFIGS / "single_engagement.yaml", overrides={"fdc.picture": False}, record=rec)
    a = aar.analyse(rec)
    assert not a.picture_recorded
    assert a.system_tracks, "system tracks rebuilt from the radar tracks"
    assert {row.target_track_id for row in a.engagements.values()} <= set(a.system_tracks)
