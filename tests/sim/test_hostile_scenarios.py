"""Valid-looking but hostile scenario files: never a hang, an exhausted machine or a traceback.

Each case runs ``bmc run`` in a subprocess with a timeout, so a regression fails here
instead of hanging the suite; it must exit 2 at once with one line naming the field or
the limit, and how to raise it where a limit is what stopped it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bmc.scenario import DEFAULT_LIMITS, Limits, ScenarioError, parse_scenario

TUTORIAL = Path(__file__).resolve().parents[2] / "sim_configs" / "single_engagement.yaml"


def _tutorial() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TUTORIAL.read_text(encoding="utf-8"))
    return data


def _with(change: Any) -> str:
    data = _tutorial()
    change(data)
    return yaml.safe_dump(data)


def _swarm(data: dict[str, Any], members: int, raids: int = 1) -> None:
    asset = data["assets"][0]["id"]
    data["raids"] = [
        {
            "id": f"swarm{i}",
            "count": members,
            "kind": "drone",
            "target": asset,
            "bearing_deg": i,
            "range_m": 9e3,
        }
        for i in range(raids)
    ]


_ALIAS_BOMB = "\n".join(
    [
        'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]',
        *(f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}"] * 10) + "]" for k in range(1, 9)),
    ]
)

CASES: list[tuple[str, str | bytes, tuple[str, ...]]] = [
    (
        "radius_1e308",
        _with(lambda d: d["assets"][0].update(radius_m=1e308)),
        ("assets[0].radius_m:", "less than or equal to 100000"),
    ),
    (
        "position_1e308",
        _with(lambda d: d["radars"][0]["position"].update(east_m=-1e308)),
        ("radars[0].position.east_m:", "greater than or equal to -1000000"),
    ),
    (
        "speed_1e308",
        _with(lambda d: d["threats"][0].update(speed_mps=1e308)),
        ("threats[0].speed_mps:", "less than or equal to 10000"),
    ),
    (
        "scan_period_1e-300",
        _with(lambda d: d["radars"][0].update(scan_period_s=1e-300)),
        ("radars[0].scan_period_s:", "greater than or equal to 0.01"),
    ),
    (
        "a_day_of_fast_scans",
        _with(lambda d: (d.update(duration_s=86_400), d["radars"][0].update(scan_period_s=0.01))),
        ("radars[0].scan_period_s:", "periodic activities", "--limit events=N"),
    ),
    (
        "nested_100000_deep",
        "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
        ("line 1", "nested deeper", "yaml_depth"),
    ),
    ("alias_bomb", _ALIAS_BOMB + "\n", ("aliases are expanded", "--limit yaml_nodes=N")),
    ("threats_100000", _with(lambda d: _swarm(d, 5000, raids=20)), ("raids[*].count:", "100001 air objects")),
    ("one_raid_too_big", _with(lambda d: _swarm(d, 5000, raids=5)), ("raids[*].count:", "--limit objects=N")),
    ("file_50_mb", b"# padding\n" + b" " * 50_000_000, ("larger than the limit", "--limit file_bytes=N")),
]


@pytest.mark.parametrize(("name", "text", "says"), CASES, ids=[c[0] for c in CASES])
def test_hostile_file_is_refused_at_once(
    name: str, text: str | bytes, says: tuple[str, ...], tmp_path: Path
) -> None:
    path = tmp_path / f"{name}.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bmc", "run", str(path), "--quiet"], capture_output=True, text=True, timeout=60
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bmc: {path}: "), lines[:3]
    for fragment in says:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    # Refused before any run: startup plus reading (even 50 MB are not read whole).
    assert elapsed < 30, elapsed


def test_object_scans_limit_names_the_radars() -> None:
    data = _tutorial()
    _swarm(data, 4000, raids=4)
    data["duration_s"] = 86_400
    with pytest.raises(
        ScenarioError, match=r"radars\[\*\]\.scan_period_s: .* object-scans, more than the limit"
    ):
        parse_scenario(data)


def test_a_user_who_means_it_raises_a_limit() -> None:
    data = _tutorial()
    _swarm(data, 5000, raids=5)
    with pytest.raises(ScenarioError, match="more than the limit of 20000"):
        parse_scenario(data)
    scenario = parse_scenario(data, limits=DEFAULT_LIMITS.raised(["objects=30000"]))
    assert sum(r.count for r in scenario.raids) == 25_000


@pytest.mark.parametrize(
    ("assignment", "says"),
    [
        ("objects", "expected KEY=N"),
        ("bogus=3", "KEY one of file_bytes, yaml_nodes, yaml_depth, objects, events, object_scans"),
        ("objects=-5", "whole number > 0"),
        ("objects=many", "whole number > 0"),
    ],
)
def test_bad_limit_assignments_are_named(assignment: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        DEFAULT_LIMITS.raised([assignment])


def test_bad_limit_on_the_command_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from bmc.cli import main

    assert main(["run", str(TUTORIAL), "--quiet", "--limit", "objects=0"]) == 2
    assert (
        capsys.readouterr().err.strip() == "bmc: --limit 'objects=0': N must be a whole number > 0 (got '0')"
    )


def test_defaults_leave_room_for_every_shipped_scenario() -> None:
    from bmc.scenario import load_scenario, work_problems

    tight = Limits(events=1, object_scans=1, objects=1)
    for path in sorted(TUTORIAL.parent.glob("*.yaml")):
        scenario = load_scenario(path)
        assert not work_problems(scenario, DEFAULT_LIMITS), path.name
        assert work_problems(scenario, tight), path.name  # the estimate sees them at all
