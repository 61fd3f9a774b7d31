"""``--junit PATH``: each scenario check becomes a JUnit test case a CI server can list."""

from __future__ import annotations

from pathlib import Path
from xml.dom import minidom

import yaml

from bmc.cli import main

SINGLE = Path(__file__).resolve().parents[2] / "sim_configs" / "single_engagement.yaml"


def _cases(path: Path) -> list[tuple[str, str, str | None]]:
    """(classname, name, failure message or None) of every test case, read with minidom."""
    doc = minidom.parse(str(path))
    out = []
    for tc in doc.getElementsByTagName("testcase"):
        failures = tc.getElementsByTagName("failure")
        out.append(
            (
                tc.getAttribute("classname"),
                tc.getAttribute("name"),
                failures[0].getAttribute("message") if failures else None,
            )
        )
    return out


def test_a_run_writes_each_expect_check_as_a_case(tmp_path: Path) -> None:
    data = yaml.safe_load(SINGLE.read_text())
    data["expect"] = ["killed == 1", "missiles_fired <= 0"]
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "run.xml"
    assert main(["run", str(scenario), "--quiet", "--junit", str(out)]) == 1  # a check failed
    assert _cases(out) == [
        ("bmc.run.single_engagement", "killed == 1", None),
        ("bmc.run.single_engagement", "missiles_fired <= 0", "missiles_fired <= 0: value 2"),
    ]
    suite = minidom.parse(str(out)).getElementsByTagName("testsuite")[0]
    assert (suite.getAttribute("tests"), suite.getAttribute("failures")) == ("2", "1")


def test_a_sweep_writes_each_check_per_combination(tmp_path: Path) -> None:
    out = tmp_path / "sweep.xml"
    code = main(
        ["sweep", str(SINGLE), "--runs", "2", "--vary", "launchers[*].pk=0.0,1.0", "--ignore-expect",
         "--check", "killed.mean >= 1", "--workers", "1", "--out", str(tmp_path / "sw"), "--quiet",
         "--junit", str(out)]
    )  # fmt: skip
    assert code == 1
    cases = _cases(out)
    assert [(c[1], c[2] is None) for c in cases] == [
        ("killed.mean >= 1 [#0: launchers[*].pk=0.0]", False),
        ("killed.mean >= 1 [#1: launchers[*].pk=1.0]", True),
    ]
    assert cases[0][2] is not None and "killed.mean = 0 over 2 runs" in cases[0][2]
