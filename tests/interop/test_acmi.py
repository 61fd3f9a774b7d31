"""``bmc export --format acmi``: Tacview ACMI 2.2, read back by pyacmi (an independent parser)
against what the recording holds."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from pyacmi.acmi import Acmi

from bmc.cli import main
from bmc.scenario import Position, load_scenario
from protocols import codec
from protocols import messages as m
from protocols.recording import read_recording

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "sim_configs" / "single_engagement.yaml"
EPOCH = 1_767_225_600.0


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("acmi")
    rec, out = d / "run.mcap", d / "run.acmi"
    assert main(["run", str(SCENARIO), "--record", str(rec), "--quiet"]) == 0
    assert (
        main(["export", str(rec), "--format", "acmi", "--out", str(out), "--epoch", str(EPOCH), "--quiet"])
        == 0
    )
    return rec, out


def test_objects_coalitions_positions_and_removal_times(exported: tuple[Path, Path]) -> None:
    rec, out = exported
    acmi = Acmi()
    acmi.load_acmi(str(out))
    s = load_scenario(SCENARIO)
    msgs = [codec.decode(rm.payload) for rm in read_recording(rec).messages()]
    flyouts = [x.body for x in msgs if isinstance(x.body, m.Flyout)]
    dets = [(x.header.sim_time_s, x.body) for x in msgs if isinstance(x.body, m.Detonation)]
    assert acmi.file_version == 2.2 and acmi.title == f"{s.name} (seed {s.seed})"
    assert acmi.reference_time.isoformat() == "2026-01-01T00:00:00"
    by_name = {o.get_value("Name"): o for o in acmi.objects.values()}
    # Every asset, radar, launcher, threat and interceptor, once each.
    expected = {a.id for a in s.assets} | {r.id for r in s.radars} | {x.id for x in s.launchers}
    expected |= {t.id for t in s.threats} | {f.interceptor_id for f in flyouts}
    assert set(by_name) == expected and len(acmi.objects) == len(expected)
    assert {n: by_name[n].coalition() for n in ("T1", "L1")} == {"T1": "Enemies", "L1": "Allies"}
    assert by_name["L1"].get_value("EngagementRange") == s.launchers[0].max_range_m
    assert by_name["R1"].get_value("RadarRange") == s.radars[0].max_range_m
    # Each interceptor leaves at its detonation; the drone at its kill.
    for t, d in dets:
        assert by_name[d.interceptor_id].removed_at == pytest.approx(t, abs=1e-3)
        if d.outcome == m.DetonationOutcome.KILL:
            assert by_name[d.object_id].removed_at == pytest.approx(t, abs=1e-3)
    # Positions: the truth report's, back through the scenario's own conversion, within 1 m.
    truth = {round(x.header.sim_time_s, 3): x.body for x in msgs if isinstance(x.body, m.TruthReport)}
    t1 = by_name["T1"]
    checked = 0
    for when, report in truth.items():
        k = report.object_id.index("T1")
        if report.status[k] != m.ObjectStatus.ACTIVE or when > t1.removed_at:
            continue
        lat, lon, alt = t1.latitude(when), t1.longitude(when), t1.altitude(when)
        e, n, u = s.enu(Position(lat_deg=lat, lon_deg=lon, alt_m=alt))
        assert math.dist((e, n, u), report.state[k, :3].tolist()) < 1.0, when
        checked += 1
    assert checked > 30


def test_events_at_launch_kill_and_miss(exported: tuple[Path, Path]) -> None:
    """pyacmi skips events (it reads them as unknown global properties): read them as lines."""
    rec, out = exported
    lines = out.read_text(encoding="utf-8").splitlines()
    events, now = [], 0.0
    for line in lines:
        if line.startswith("#"):
            now = float(line[1:])
        elif line.startswith("0,Event="):
            kind = re.match(r"0,Event=(\w+)\|", line)
            assert kind is not None
            events.append((now, kind.group(1), line))
    msgs = [codec.decode(rm.payload) for rm in read_recording(rec).messages()]
    launches = sorted(x.body.launch_time_s for x in msgs if isinstance(x.body, m.Flyout))
    kills = [
        x.header.sim_time_s
        for x in msgs
        if isinstance(x.body, m.Detonation) and x.body.outcome == m.DetonationOutcome.KILL
    ]
    assert [t for t, k, _l in events if k == "Message" and " fires " in _l] == pytest.approx(
        launches, abs=1e-3
    )
    assert [t for t, k, _l in events if k == "Destroyed"] == pytest.approx(kills, abs=1e-3)
    assert len(kills) == 1


def test_a_recording_without_scenario_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.mcap"
    bad.write_bytes(b"not an mcap file")
    assert main(["export", str(bad), "--format", "acmi", "--out", str(tmp_path / "x.acmi")]) == 2
    assert "bad.mcap" in capsys.readouterr().err
