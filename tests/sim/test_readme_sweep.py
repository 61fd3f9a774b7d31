"""The README's flagship sweep, run as written: it must fail exactly where the README says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _readme_sweep() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(
        r"^\.venv/bin/bmc sweep sim_configs/belgium_nasams\.yaml .*?--ignore-expect$", text, re.S | re.M
    )
    assert match, "the README's sweep example is gone"
    return re.sub(r"\\\n\s*", " ", match.group(0))


@pytest.mark.slow
def test_readme_sweep_example_runs_as_written(tmp_path: Path) -> None:
    # In a directory of its own, so its outputs (sweeps/<name>) land there.
    (tmp_path / "sim_configs").symlink_to(ROOT / "sim_configs")
    command = _readme_sweep().replace(".venv/bin/bmc", f"{sys.executable} -m bmc", 1)
    done = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stderr[-3000:]
    failed = [line for line in done.stderr.splitlines() if line.startswith("bmc: check failed: ")]
    combos = sorted({int(re.search(r" on combination (\d) ", line).group(1)) for line in failed})  # type: ignore[union-attr]
    assert combos == [0, 1, 3] and len(failed) == 6, failed
    assert (
        "bmc: check failed: P(leaked <= 2) >= 0.8 on combination 0 (launchers[*].pk=0.6, "
        "fdc.doctrine=shoot-look-shoot): fraction of runs 0.1 (2/20), 95 % interval [0.0279, 0.301]"
    ) in failed
    doc = json.loads((tmp_path / "sweeps" / "belgium_nasams" / "sweep.json").read_text(encoding="utf-8"))
    best = doc["summary"][2]
    assert best["params"] == {"launchers[*].pk": 0.8, "fdc.doctrine": "shoot-look-shoot"}
    assert best["metrics"]["threats.leaked"]["mean"] == pytest.approx(0.9)
    leaked = [doc["summary"][k]["metrics"]["threats.leaked"]["mean"] for k in (0, 1, 3)]
    assert leaked == pytest.approx([5.45, 8.85, 7.35])
    fraction = next(c for c in doc["checks"] if c["combination"] == 2 and c["check"].startswith("P("))
    assert (fraction["hits"], fraction["n"], fraction["ok"]) == (17, 20, True)
