"""The typed run report: one JSON form that reads back to the same value, one text form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bmc.engine.report import CheckResult, RunReport
from bmc.engine.runner import run_virtual
from bmc.scenario import load_scenario

SINGLE = Path(__file__).resolve().parents[4] / "sim_configs" / "single_engagement.yaml"


@pytest.fixture(scope="module")
def report() -> RunReport:
    return run_virtual(load_scenario(SINGLE))


def test_the_json_form_reads_back_to_the_same_report(report: RunReport) -> None:
    text = json.dumps(report.to_dict())
    assert RunReport.from_dict(json.loads(text)) == report
    assert list(report.to_dict()) == [
        "scenario", "seed", "sim_time_s", "wall_time_s", "threats", "friendly_engaged", "missiles_fired",
        "missiles_per_kill", "reaction_time_s", "assets", "launchers", "messages", "digest", "expect",
    ]  # fmt: skip


def test_metric_paths_reach_every_figure(report: RunReport) -> None:
    assert report.value("threats.killed") == report.threats.killed == 1
    assert report.value("launchers.L1.fired") == report.launchers["L1"].fired
    assert report.value("reaction_time_s.p50") == report.reaction_time_s.p50
    assert report.value("assets.nowhere") is None
    assert report.value("threats.killed.more") is None


def test_the_text_form_shows_each_figure_and_check(report: RunReport) -> None:
    text = report.text()
    t = report.threats
    assert f"{t.total} total: {t.killed} killed, {t.leaked} leaked, {t.alive_at_end} alive at end" in text
    assert f"digest            {report.digest}" in text
    for e in report.expect:
        assert f"expect {'ok  ' if e.ok else 'FAIL'}       {e.check}  (value" in text
    assert report.ok
    failed = report.with_checks([*report.expect, CheckResult("killed >= 9", False, 1)])
    assert not failed.ok and "expect FAIL       killed >= 9  (value 1)" in failed.text()


def test_a_report_without_wall_time_or_seed_reads_as_such(report: RunReport) -> None:
    d = report.to_dict() | {"wall_time_s": None, "seed": None, "recording_problems": ["truncated"]}
    back = RunReport.from_dict(d)
    assert back.to_dict() == d
    assert "(seed -)" in back.text() and " wall" not in back.text().splitlines()[1]
    assert "recording problem  truncated" in back.text()


def test_a_recorded_run_with_overrides_records_the_scenario_that_ran(tmp_path: Path) -> None:
    import bmc
    from bmc.record import recorded_scenario
    from protocols.recording import read_recording

    rec = tmp_path / "r.mcap"
    report = bmc.run(SINGLE, overrides={"launchers[*].pk": 0.0}, record=rec)
    assert report.threats.killed == 0
    ran = recorded_scenario(read_recording(rec))
    assert ran is not None and [x.pk for x in ran.launchers] == [0.0]
