"""The pytest plugin a user's own suite gets from the package (entry point ``pytest11``): run in
a fresh pytest process on small example test files, as a user would."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.transport.conftest import REPO, SIM_CONFIGS, short_single_engagement, write_scenario

pytest_plugins = ["pytester"]

EXAMPLE = f'''
def test_the_tutorial_kills_its_drone(bmc_run):
    report = bmc_run("{SIM_CONFIGS / "single_engagement.yaml"}")
    assert report.threats.killed == 1 and report.ok

def test_a_blind_cell_would_pass(bmc_run):
    report = bmc_run("{SIM_CONFIGS / "single_engagement.yaml"}", overrides={{"launchers[*].pk": 0.0}})
    assert report.threats.killed == 1, report.threats
'''


def test_bmc_run_gives_typed_reports_and_keeps_a_failed_tests_recording(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=EXAMPLE)
    keep = pytester.path / "kept"
    result = pytester.runpytest_subprocess("--bmc-keep-recordings", str(keep), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*bmc recordings*", f"*{keep}*test_a_blind_cell_would_pass-run-1.mcap*"])
    kept = sorted(p.name for p in keep.iterdir())
    assert kept == ["test_user.py__test_a_blind_cell_would_pass-run-1.mcap"], kept
    # The kept recording is the whole failed run: the after-action report reads it back.
    import bmc
    from bmc.aar import report_from_recording

    rebuilt = report_from_recording(keep / kept[0]).to_dict()
    same = bmc.run(SIM_CONFIGS / "single_engagement.yaml", overrides={"launchers[*].pk": 0.0}).to_dict()
    assert rebuilt["threats"]["killed"] == 0
    assert {k: v for k, v in rebuilt.items() if k != "wall_time_s"} == {
        k: v for k, v in same.items() if k != "wall_time_s"
    }


@pytest.mark.mqtt
def test_bmc_cell_runs_a_real_time_cell_on_a_private_broker(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    scenario = write_scenario(tmp_path, short_single_engagement(), "short.yaml")
    pytester.makepyfile(
        test_rig=f'''
import paho.mqtt.client as paho

def test_the_cell_engages_on_the_broker(bmc_broker, bmc_cell):
    heard = []
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, msg: heard.append(msg.topic)
    client.connect("127.0.0.1", bmc_broker.port)
    client.subscribe("bmc/v1/#")
    client.loop_start()
    report = bmc_cell("{scenario}", speed=20).wait(60)
    client.loop_stop()
    assert report.threats.killed == 1 and report.realtime["speed"] == 20
    assert any(t.endswith("/launcher/L1/order") for t in heard), sorted(set(heard))[:5]
'''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def _python_block(marker: str) -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```python\n(.*?)^```", readme, re.S | re.M) if marker in b]
    assert len(blocks) == 1, f"README.md: {len(blocks)} python blocks contain {marker!r}"
    return str(blocks[0])


def test_the_readme_python_example_runs_as_written() -> None:
    code = _python_block("import bmc")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "threats           1 total: 1 killed" in done.stdout
    assert "launchers[0].pkk: unknown key 'pkk'" in done.stdout


@pytest.mark.mqtt
def test_the_readme_plugin_example_runs_as_written(pytester: pytest.Pytester) -> None:
    (pytester.path / "sim_configs").symlink_to(SIM_CONFIGS)
    pytester.makepyfile(test_readme_example=_python_block("def test_salvo_doctrine"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
