"""Malformed scenario files through the command line: one clear line per problem, exit code 2, no traceback.

Each case is a small YAML text written to ``tmp_path`` and run with
``bmc run FILE --quiet``; the CLI must answer with exit code 2 and, on stderr,
one line per problem that starts with ``bmc: `` and names the file and the
field. The last tests cover bad arguments, a failing ``expect`` (exit 1) and
the ``--json`` report.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bmc.cli import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, main

TUTORIAL = Path(__file__).resolve().parents[2] / "sim_configs" / "single_engagement.yaml"

BASE = """\
name: bad
duration_s: 100
origin: {lat_deg: 50.0, lon_deg: 4.0}
assets:
  - {id: site, position: {east_m: 0, north_m: 0}}
radars:
  - {id: R1, position: {east_m: 0, north_m: 0, up_m: 10}}
launchers:
  - {id: L1, position: {east_m: 100, north_m: 0}}
"""

RADAR = "  - {id: R1, position: {east_m: 0, north_m: 0, up_m: 10}}"
LAUNCHER = "  - {id: L1, position: {east_m: 100, north_m: 0}}"
ASSET = "  - {id: site, position: {east_m: 0, north_m: 0}}"


def _replace(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


@dataclass(frozen=True)
class Case:
    """A malformed file and what its single error line must contain."""

    id: str
    text: str | bytes
    says: tuple[str, ...]
    """Fragments of the error line after ``bmc: FILE: `` (field path first where there is one)."""


CASES = [
    Case(
        "yaml_syntax_error",
        _replace("origin: {lat_deg: 50.0, lon_deg: 4.0}", "origin: {lat_deg: 50.0, lon_deg: 4.0"),
        ("YAML syntax error", "line 4"),
    ),
    Case("missing_duration", _replace("duration_s: 100\n", ""), ("duration_s: ", "required")),
    Case(
        "duration_not_a_number", _replace("duration_s: 100", 'duration_s: "abc"'), ("duration_s: ", "'abc'")
    ),
    Case(
        "negative_scan_period",
        _replace(RADAR, RADAR[:-1] + ", scan_period_s: -1}"),
        ("radars[0].scan_period_s: ", "greater than or equal to 0.01", "-1"),
    ),
    Case(
        "negative_missiles",
        _replace(LAUNCHER, LAUNCHER[:-1] + ", missiles: -1}"),
        ("launchers[0].missiles: ", "greater than 0", "-1"),
    ),
    Case(
        "threat_targets_unknown_asset",
        BASE
        + "threats:\n"
        + "  - id: T1\n    kind: drone\n"
        + "    waypoints: [{position: {east_m: 9000, north_m: 0, up_m: 100}}]\n"
        + "    target: nowhere\n",
        ("threats[0].target: ", "unknown asset", "'nowhere'"),
    ),
    Case(
        "raid_targets_unknown_asset",
        BASE
        + "raids:\n  - {id: RD, count: 3, kind: drone, target: nowhere, bearing_deg: 90, range_m: 10000}\n",
        ("raids[0].target: ", "unknown asset", "'nowhere'"),
    ),
    Case(
        "duplicate_node_id",
        _replace(LAUNCHER, LAUNCHER.replace("L1", "R1")),
        ("launchers[0].id: ", "duplicate id 'R1'", "radars[0]"),
    ),
    Case(
        "unknown_key_in_radar",
        _replace(RADAR, RADAR[:-1] + ", scan_periode_s: 2}"),
        ("radars[0].scan_periode_s: ", "unknown key 'scan_periode_s' (did you mean 'scan_period_s'?)"),
    ),
    Case("bad_doctrine", BASE + "fdc: {doctrine: salvo-9}\n", ("fdc.doctrine: ", "'salvo-9'")),
    Case(
        "position_both_geodetic_and_local",
        _replace(ASSET, "  - {id: site, position: {lat_deg: 50.0, east_m: 0, north_m: 0}}"),
        ("assets[0].position: ", "either lat_deg"),
    ),
    Case(
        "min_range_not_below_max_range",
        _replace(LAUNCHER, LAUNCHER[:-1] + ", min_range_m: 30000, max_range_m: 20000}"),
        ("launchers[0]: ", "max_range_m must exceed min_range_m", "20000"),
    ),
    Case(
        "unknown_link_channel",
        BASE + "links:\n  trakcs: {latency_s: 0.1}\n",
        ("links", "unknown channel 'trakcs'"),
    ),
    Case(
        "bad_expect_syntax",
        BASE + "expect:\n  - leaked is zero\n",
        ("expect", "'<metric> <op> <number>'", "'leaked is zero'"),
    ),
    Case(
        "unknown_expect_metric",
        BASE + "expect:\n  - kills >= 1\n",
        ("expect", "unknown metric 'kills'"),
    ),
    Case("yaml_list_not_mapping", "- name: bad\n- duration_s: 100\n", ("must be a mapping", "list")),
    Case("not_utf8", BASE.replace("name: bad", "name: b\xe9d").encode("latin-1"), ("cannot read", "utf-8")),
    Case(
        "unknown_threat_kind",
        BASE
        + "threats:\n  - id: T1\n    kind: ufo\n"
        + "    waypoints: [{position: {east_m: 9000, north_m: 0}}, {position: {east_m: 0, north_m: 0}}]\n",
        ("threats[0].kind: ", "'ufo'"),
    ),
    Case(
        "raid_bearing_out_of_range",
        BASE
        + "raids:\n  - {id: RD, count: 3, kind: drone, target: site, bearing_deg: 360, range_m: 10000}\n",
        ("raids[0].bearing_deg: ", "less than 360", "360"),
    ),
]


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    # `bmc run` takes its broker from BMC_MQTT_URL when set: these runs are all virtual.
    monkeypatch.delenv("BMC_MQTT_URL", raising=False)


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse reports bad arguments by exiting
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / f"{name}.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _error_lines(capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return out, err.splitlines()


def test_base_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The cases below each break one thing of a file that is otherwise fine.
    assert _run(["run", str(_write(tmp_path, "base", BASE)), "--quiet"]) == EXIT_OK
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_file_gives_one_clear_line(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, case.id, case.text)
    assert _run(["run", str(path), "--quiet"]) == EXIT_BAD_INPUT
    out, lines = _error_lines(capsys)
    assert out == ""
    assert len(lines) == 1, lines
    prefix = f"bmc: {path}: "
    assert lines[0].startswith(prefix), lines[0]
    message = lines[0].removeprefix(prefix)
    for fragment in case.says:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in {message!r}"
    if case.says[0].endswith(": "):
        # The field path leads the message.
        assert message.startswith(case.says[0]), message


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "does_not_exist.yaml"
    assert _run(["run", str(path), "--quiet"]) == EXIT_BAD_INPUT
    _, lines = _error_lines(capsys)
    assert lines == [f"bmc: {path}: cannot read: No such file or directory"]


def test_every_problem_gets_its_own_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _replace("duration_s: 100", "duration_s: -5")
    text = text.replace(RADAR, RADAR[:-1] + ", scan_period_s: 0}")
    path = _write(tmp_path, "two_problems", text)
    assert _run(["run", str(path), "--quiet"]) == EXIT_BAD_INPUT
    _, lines = _error_lines(capsys)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"bmc: {path}: duration_s: ")
    assert lines[1].startswith(f"bmc: {path}: radars[0].scan_period_s: ")


@pytest.mark.parametrize("seed", ["-3", "abc"])
def test_bad_seed_argument(seed: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["run", str(TUTORIAL), "--seed", seed, "--quiet"]) == EXIT_BAD_INPUT
    _, lines = _error_lines(capsys)
    assert any(line.startswith("bmc: error: argument --seed: ") and seed in line for line in lines), lines


def _tutorial_with_expect(tmp_path: Path, checks: list[str]) -> Path:
    data = yaml.safe_load(TUTORIAL.read_text(encoding="utf-8"))
    data["expect"] = checks
    path = tmp_path / "tutorial.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_failed_expect_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _tutorial_with_expect(tmp_path, ["killed >= 5", "friendly_engaged == 0"])
    assert _run(["run", str(path)]) == EXIT_CHECK_FAILED
    out, lines = _error_lines(capsys)
    assert re.search(r"^expect FAIL +killed >= 5  \(value 1\)$", out, flags=re.MULTILINE), out
    assert re.search(r"^expect ok +friendly_engaged == 0  \(value 0\)$", out, flags=re.MULTILINE), out
    assert lines == []


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report_path = tmp_path / "report.json"
    assert _run(["run", str(TUTORIAL), "--seed", "3", "--json", str(report_path), "--quiet"]) == EXIT_OK
    out, lines = _error_lines(capsys)
    assert out == "" and lines == []
    report = json.loads(report_path.read_text(encoding="utf-8"))
    for key in (
        "scenario",
        "seed",
        "sim_time_s",
        "wall_time_s",
        "threats",
        "friendly_engaged",
        "missiles_fired",
        "missiles_per_kill",
        "reaction_time_s",
        "assets",
        "messages",
        "digest",
        "expect",
    ):
        assert key in report, key
    assert report["scenario"] == "single_engagement"
    assert report["seed"] == 3
    assert report["sim_time_s"] == 400
    assert set(report["threats"]) == {"total", "killed", "leaked", "alive_at_end"}
    assert report["threats"]["total"] == 1
    assert set(report["reaction_time_s"]) == {"p50", "p95"}
    assert {"published", "delivered", "dropped"} <= set(report["messages"])
    assert report["assets"] == {"site": 0}
    assert len(report["digest"]) == 64
    assert [e["check"] for e in report["expect"]] == ["leaked <= 0", "killed == 1", "friendly_engaged == 0"]
    assert all(e["ok"] for e in report["expect"])


def test_json_report_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["run", str(TUTORIAL), "--json", "-"]) == EXIT_OK
    out, lines = _error_lines(capsys)
    assert json.loads(out)["scenario"] == "single_engagement"  # nothing but the JSON on stdout
    assert lines == []


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("duplicate_key", BASE + "duration_s: 50\n", "key 'duration_s' given twice"),
        ("nan_duration", BASE.replace("duration_s: 100", "duration_s: .nan"), "duration_s: "),
        ("empty_file", "", "the file is empty"),
        ("reserved_world_id", BASE.replace("id: R1", "id: world"), "'world' is reserved"),
        ("unknown_asset_in_expect", BASE + "expect: ['assets.nowhere >= 0']\n", "unknown asset 'nowhere'"),
        (
            "reference_pd_below_pfa",
            _replace(RADAR, RADAR[:-1] + ", reference_pd: 0.0000001}"),
            "reference_pd must exceed false_alarm_probability",
        ),
    ],
)
def test_more_bad_input_named_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, expected: str
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bmc: {path}: "), lines
    assert expected in lines[0], lines[0]


def test_speed_without_a_broker_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    # A virtual run goes as fast as it can: a --speed there would be silently ignored.
    assert main(["run", str(TUTORIAL), "--quiet", "--speed", "10"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "bmc: --speed paces a real-time run and needs --mqtt URL (a virtual run goes as fast as it can)"
    )
