"""Recordings of runs: what a run writes into its MCAP file besides the messages, and how
the scenario and the live report are read back. The file format is ``protocols.recording``'s.

Metadata of a ``bmc run --record`` file:

- ``bmc.scenario`` (at the start): ``name``, ``seed`` (the one the run used), ``path``,
  ``yaml`` (the scenario file's text, as read), ``duration_s``, ``mode`` (virtual or
  realtime), ``speed``, ``topic_root``;
- ``bmc.run`` (at close): ``status`` (complete, interrupted or failed), ``report`` (the
  run report as JSON, exactly as ``bmc run --json`` wrote it), ``sim_time_s``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from bmc.engine import clock
from bmc.scenario import Limits, Scenario, ScenarioError, parse_scenario, read_scenario_yaml
from protocols.recording import (
    CHUNK_SIZE,
    REALTIME_CHUNK_SIZE,
    RUN_METADATA,
    SCENARIO_METADATA,
    Recorder,
    Recording,
)
from protocols.topics import root_for


def scenario_metadata(
    scenario: Scenario,
    *,
    source: Path | None,
    seed: int | None,
    mode: str,
    speed: float | None = None,
    root: str | None = None,
) -> dict[str, str]:
    """The ``bmc.scenario`` record: the scenario file's own text when there is one."""
    text: str | None = None
    if source is not None:
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
    if text is None:
        text = yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False)
    return {
        "name": scenario.name,
        "seed": str(scenario.seed if seed is None else seed),
        "path": "" if source is None else str(source),
        "yaml": text,
        "duration_s": repr(float(scenario.duration_s)),
        "mode": mode,
        "speed": "" if speed is None else repr(float(speed)),
        "topic_root": root or root_for(scenario.name),
    }


def open_recorder(
    path: Path,
    scenario: Scenario,
    *,
    source: Path | None = None,
    seed: int | None = None,
    mode: str = "virtual",
    speed: float | None = None,
    root: str | None = None,
) -> Recorder:
    """A recorder for a run of ``scenario``, stamping wall-clock time; RecordingError when the
    file cannot be created."""
    meta = scenario_metadata(scenario, source=source, seed=seed, mode=mode, speed=speed, root=root)
    chunk = REALTIME_CHUNK_SIZE if mode == "realtime" else CHUNK_SIZE
    recorder = Recorder(path, {SCENARIO_METADATA: meta}, wall_ns=clock.epoch_ns_clock(), chunk_size=chunk)
    from bmc.interop.foxglove import FoxgloveChannels

    recorder.also = FoxgloveChannels(recorder, scenario)  # Foxglove's Map panel reads these
    return recorder


def close_recorder(recorder: Recorder, report: dict[str, Any] | None, status: str | None = None) -> None:
    """Close with the ``bmc.run`` record: the live report, or how the run ended without one."""
    run: dict[str, str] = {"status": status or ("complete" if report is not None else "interrupted")}
    if report is not None:
        run["report"] = json.dumps(report)
        run["sim_time_s"] = repr(float(report["sim_time_s"]))
    recorder.close({RUN_METADATA: run})


def recorded_report(recording: Recording) -> dict[str, Any] | None:
    """The live run's report as the recorder stored it at close; None when absent or unreadable."""
    text = recording.meta(RUN_METADATA).get("report")
    if not text:
        return None
    try:
        report = json.loads(text)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def recorded_scenario(recording: Recording, overrides: list[str] | None = None) -> Scenario:
    """The scenario the recording was made from, with the seed the run used, and
    ``key=value`` overrides (``fdc.doctrine=salvo-2``) applied. ScenarioError when missing or invalid."""
    meta = recording.meta(SCENARIO_METADATA)
    text = meta.get("yaml")
    where = f"{recording.path} (recorded scenario)"
    if not text:
        damage = f"; {recording.damage}" if recording.damage else ""
        raise ScenarioError(
            f"{recording.path}: the recording holds no scenario (metadata {SCENARIO_METADATA}){damage}"
        )
    try:
        data = read_scenario_yaml(text, where)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: YAML syntax error: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: not a mapping")
    seed = meta.get("seed", "")
    if seed.isdigit():
        data["seed"] = int(seed)
    for item in overrides or []:
        set_path(data, item)
    # The recorded run met its own limits; the recording's size bounds what reading it costs.
    return parse_scenario(data, where, Limits.unlimited())


def set_path(data: dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value`` to nested scenario data; the value is read as YAML (numbers, true, text).
    List items are addressed by index (``launchers.0.pk=0.5``). ScenarioError when the path does not exist."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ScenarioError(f"--set needs key=value (got {assignment!r})")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    parts = key.strip().split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f"--set {key}: no item {part} in {where.rsplit('.', 1)[0]}")
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            raise ScenarioError(f"--set {key}: {where} is not a mapping")
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ScenarioError(f"--set {key}: no item {last}")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(f"--set {key}: cannot set inside a {type(node).__name__}")
