"""Every scenario shipped in sim_configs/ runs and meets its own ``expect`` block."""

from __future__ import annotations

from pathlib import Path

import pytest

from bmc.engine.runner import run_virtual
from bmc.scenario import load_scenario
from tests.sim import golden

CONFIGS = golden.CONFIGS


def test_there_are_scenarios() -> None:
    names = {p.name for p in CONFIGS}
    assert {"single_engagement.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_scenario_meets_its_expectations(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.expect, f"{path.name} has no expect block"
    report = run_virtual(scenario).to_dict()
    failed = [e for e in report["expect"] if not e["ok"]]
    assert not failed, f"{path.name}: {failed}"
    assert report["sim_time_s"] == pytest.approx(scenario.duration_s)
    # Bit for bit what every machine gives with the pinned versions (tests/sim/golden.py).
    mismatch = golden.version_mismatch()
    assert mismatch is None, mismatch
    assert report["digest"] == golden.load()["digests"][path.stem], (
        f"{path.name}: the digest changed; if that change of behaviour is meant, run `make golden` "
        "and say why in the commit"
    )


def test_every_scenario_has_a_golden_digest() -> None:
    assert set(golden.load()["digests"]) == {p.stem for p in CONFIGS}
