"""The public Python API stays callable whatever else has been imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_bmc_sweep_is_still_the_function_after_its_package_is_imported(tmp_path: Path) -> None:
    """Importing any bmc.sweep.* module binds the package as ``bmc.sweep`` over the function
    (Python's import system does); the package forwards calls, so ``bmc.sweep(...)`` works
    either way. In a fresh interpreter: this suite has imported everything already."""
    scenario = str(REPO / "sim_configs" / "single_engagement.yaml")
    code = (
        "import bmc, bmc.sweep.results\n"
        f"r = bmc.sweep({scenario!r}, runs=2, out={str(tmp_path)!r}, plot=False)\n"
        "print(r.runs, len(r.rows), r.scenario)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["2", "2", "single_engagement"]
