"""The scenario reference (sim_configs/README.md) is generated from the models and kept in step."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bmc.engine.metrics import METRICS
from bmc.scenario import CHANNELS, Scenario
from bmc.scenario import doc as scenario_doc

README = Path(__file__).resolve().parents[3] / "sim_configs" / "README.md"

EXPECTED_MODELS = {
    "Scenario",
    "Origin",
    "WorldConfig",
    "Asset",
    "Position",
    "Radar",
    "TrackerConfig",
    "FdcConfig",
    "Launcher",
    "Threat",
    "Waypoint",
    "Raid",
    "Link",
    "DisIn",
    "DisEntity",
}


def _reachable(tp: Any, seen: dict[str, type[BaseModel]]) -> None:
    # Walked here independently of scenario_doc, so a walker bug cannot hide a model.
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp.__name__ in seen:
            return
        seen[tp.__name__] = tp
        for field in tp.model_fields.values():
            _reachable(field.annotation, seen)
        return
    for arg in typing.get_args(tp):
        _reachable(arg, seen)


def _all_models() -> dict[str, type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    _reachable(Scenario, seen)
    return seen


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^### (\w+)\n", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_committed_readme_is_generated_from_the_models() -> None:
    assert README.read_text(encoding="utf-8") == scenario_doc.render(), (
        "sim_configs/README.md is out of date with bmc/scenario/models.py: "
        "run `python -m bmc.scenario.doc --write` and commit the result"
    )


def test_every_model_reachable_from_a_scenario_is_documented() -> None:
    models = _all_models()
    assert set(models) == EXPECTED_MODELS
    assert {m.__name__ for m in scenario_doc.models()} == EXPECTED_MODELS


@pytest.mark.parametrize("name", sorted(EXPECTED_MODELS))
def test_every_field_has_a_row_with_its_docstring(name: str) -> None:
    model = _all_models()[name]
    section = _sections(README.read_text(encoding="utf-8"))[name]
    for field_name, field in model.model_fields.items():
        rows = [line for line in section.splitlines() if line.startswith(f"| `{field_name}` |")]
        assert len(rows) == 1, f"{name}.{field_name}: expected one table row, found {len(rows)}"
        assert field.description, f"{name}.{field_name} has no docstring in bmc/scenario/models.py"
        first_words = " ".join(field.description.split()[:3]).replace("<", "\\<")
        assert first_words in rows[0], f"{name}.{field_name}: docstring missing from {rows[0]!r}"


def test_constraints_and_defaults_are_shown() -> None:
    launcher = _sections(scenario_doc.render())["Launcher"]
    row = next(line for line in launcher.splitlines() if line.startswith("| `missiles` |"))
    assert "| int | `6` |" in row
    assert "Must be > 0 and <= 64." in row
    scenario = _sections(scenario_doc.render())["Scenario"]
    assert re.search(r"^\| `duration_s` \| float \| \*\*required\*\* \|", scenario, flags=re.MULTILINE)


def test_metrics_and_channels_are_listed() -> None:
    text = scenario_doc.render()
    for metric in METRICS:
        assert f"- `{metric}`" in text
    for channel in ("default", *CHANNELS):
        assert f"- `{channel}`" in text


def test_main_prints_or_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scenario_doc.main([]) == 0
    assert capsys.readouterr().out == scenario_doc.render()
    target = tmp_path / "README.md"
    monkeypatch.setattr(scenario_doc, "README", target)
    assert scenario_doc.main(["--write"]) == 0
    assert target.read_text(encoding="utf-8") == scenario_doc.render()
