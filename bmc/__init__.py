"""The air-defence cell emulator, as a Python library (for CI scripts, notebooks, test suites).

    import bmc
    report = bmc.run("sim_configs/single_engagement.yaml", seed=3, overrides={"launchers[*].pk": 0.7})
    assert report.threats.leaked == 0 and report.ok          # every `expect` check held
    result = bmc.sweep("s.yaml", runs=20, vary={"launchers[*].pk": [0.6, 0.8]}, out="sweep-out")
    print(result.summary)

``run`` is a virtual run (every node simulated, deterministic per seed) and returns the typed
:class:`~bmc.engine.report.RunReport` that ``bmc run --json`` prints; ``sweep`` is
``bmc sweep``. Overrides and ``vary`` name scenario fields by path: ``fdc.doctrine``,
``launchers[0].missiles``, ``launchers[*].pk`` (every launcher), ``duration_s``. Bad input
raises :class:`UsageError` (``ScenarioError`` for a scenario) with the message the CLI prints.
The package imports nothing heavy until one of these is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bmc.engine.report import CheckResult, LauncherFigures, ReactionTime, RunReport, Threats
from protocols.errors import UsageError

if TYPE_CHECKING:
    from bmc.scenario import Scenario
    from bmc.sweep import SweepResult

__all__ = [
    "CheckResult",
    "LauncherFigures",
    "ReactionTime",
    "RunReport",
    "Threats",
    "UsageError",
    "load",
    "run",
    "sweep",
]


def load(
    scenario: str | Path | Scenario | Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> Scenario:
    """A validated scenario from a YAML path, a ``Scenario`` or its dict, with ``overrides``
    (path -> value) applied; ``ScenarioError`` naming the problem otherwise."""
    from bmc.scenario import Scenario, load_scenario, parse_scenario
    from bmc.sweep import apply_params

    if isinstance(scenario, (str, Path)):
        loaded = load_scenario(scenario)
        source = str(scenario)
    elif isinstance(scenario, Scenario):
        loaded, source = scenario, "<scenario>"
    else:
        loaded, source = parse_scenario(dict(scenario)), "<scenario>"
    if not overrides:
        return loaded
    return parse_scenario(apply_params(loaded.model_dump(mode="json"), dict(overrides)), source)


def run(
    scenario: str | Path | Scenario | Mapping[str, Any],
    *,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    record: str | Path | None = None,
) -> RunReport:
    """Run ``scenario`` in virtual time to its duration; the report. ``seed`` replaces the
    scenario's; ``record`` writes an MCAP recording (``bmc report``/``bmc replay`` read it)."""
    from bmc.engine.runner import run_virtual
    from bmc.engine.threads import pin_blas_threads

    pin_blas_threads()
    s = load(scenario, overrides)
    if record is None:
        return run_virtual(s, seed=seed)
    from bmc.record import close_recorder, open_recorder

    # The file's own text goes into the recording only when it is what ran: with overrides,
    # the recording keeps the scenario as overridden.
    source = Path(scenario) if isinstance(scenario, (str, Path)) and not overrides else None
    recorder = open_recorder(Path(record), s, source=source, seed=seed)
    report: RunReport | None = None
    try:
        report = run_virtual(s, seed=seed, taps=[recorder])
    finally:
        close_recorder(recorder, None if report is None else report.to_dict())
    return report


def sweep(
    scenario: str | Path | Scenario | Mapping[str, Any],
    *,
    runs: int,
    out: str | Path,
    vary: Mapping[str, Sequence[Any]] | None = None,
    checks: Sequence[str] = (),
    workers: int = 1,
    overrides: Mapping[str, Any] | None = None,
    plot: bool = True,
) -> SweepResult:
    """``runs`` replications of every combination of ``vary`` (path -> values), as ``bmc
    sweep``: rows, summary and check results, with the CSV/JSON/PNG outputs in ``out``."""
    from bmc.engine.threads import pin_blas_threads
    from bmc.sweep import Vary, run_sweep

    pin_blas_threads()
    s = load(scenario, overrides)
    varies = [Vary(path, tuple(values)) for path, values in (vary or {}).items()]
    return run_sweep(s, runs, Path(out), vary=varies, checks=checks, workers=workers, plot=plot)


_sweep_function = sweep
"""The function itself: importing any ``bmc.sweep.*`` module rebinds ``bmc.sweep`` to that
package, which then forwards calls here (``bmc/sweep/__init__.py``)."""
