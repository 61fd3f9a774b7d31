"""Monte Carlo sweeps: many virtual runs of one scenario over combinations of varied parameters.

``bmc sweep SCENARIO --runs N [--vary PATH=v1,v2,...]... [--workers K | --scheduler URL]``

- **Parameters.** A path names scenario fields the way errors do: dotted, with list
  indexes, ``[*]`` for every element (``launchers[*].pk``, ``launchers[0].missiles``,
  ``fdc.doctrine``, ``radars[*].scan_period_s``, ``duration_s``). Values are YAML
  scalars, so numbers and strings both work. Each combination (the product of the
  ``--vary`` options, in their order) is applied to the validated scenario's dict and
  validated again, so a bad value is reported like a bad scenario file.
- **Seeds.** Run ``i`` of *every* combination uses the same seed: child ``i`` of
  ``SeedSequence(scenario seed)``, cut to 63 bits (:func:`run_seed`). Common random
  numbers make differences between combinations sharper than independent draws
  would, and the seed of a run depends neither on the worker count nor on the order
  runs finish in. ``bmc run`` (with the combination's values in the file) and
  ``--seed`` replays any single run.
- **Workers.** One worker runs in this process; more run on a local process pool
  (``fork`` when this process has no other thread, else ``forkserver``); a
  ``--scheduler`` address sends the runs to an existing Dask ``distributed``
  cluster, whose workers need the same ``bmc`` installed. Each task is one run: the
  scenario as a plain dict plus a seed in, a flat row of figures out.
- **Resume.** Every finished run is appended to ``DIR/runs.jsonl`` at once, with
  fingerprints (SHA-256 of the canonical scenario dict without ``expect``) of the
  scenario and of its combination. A new sweep into the same directory reuses the
  runs whose combination fingerprint and run index it needs, so an interrupted
  sweep picks up where it stopped and a larger ``--runs`` only adds runs. Runs of a
  *different* scenario in the directory are an error unless ``fresh`` (they would be
  silently mixed otherwise). Rows do not record the emulator's version: start afresh
  after changing the emulator.
- **Outputs.** ``sweep.json`` (rows, per-combination summary, check results),
  ``sweep.csv`` (one row per run) and ``sweep.png`` (one panel per metric, mean and
  95 % interval per combination).
- **Checks.** See :mod:`bmc.engine.stats`: the scenario's ``expect`` lines (a
  single-run check must hold in every run) plus any given here, judged per
  combination; the sweep fails when one fails for any combination.
"""

import sys
import types
from typing import Any

from bmc.sweep.execute import (
    SweepError,
    Task,
    default_workers,
    flatten,
    progress_bar,
    run_one,
    run_sweep,
)
from bmc.sweep.plan import (
    JOURNAL,
    SEED_SCHEME,
    STAR,
    Combination,
    Segment,
    Vary,
    apply_params,
    combinations,
    fingerprint,
    parse_path,
    parse_vary,
    run_seed,
)
from bmc.sweep.results import (
    SUMMARY_METRICS,
    SweepResult,
    format_summary,
    judge,
    plot_summary,
    seen_text,
    summarise,
    write_outputs,
)

__all__ = [
    "JOURNAL",
    "SEED_SCHEME",
    "STAR",
    "SUMMARY_METRICS",
    "Combination",
    "Segment",
    "SweepError",
    "SweepResult",
    "Task",
    "Vary",
    "apply_params",
    "combinations",
    "default_workers",
    "fingerprint",
    "flatten",
    "format_summary",
    "judge",
    "parse_path",
    "parse_vary",
    "plot_summary",
    "progress_bar",
    "run_one",
    "run_seed",
    "run_sweep",
    "seen_text",
    "summarise",
    "write_outputs",
]


class _CallablePackage(types.ModuleType):
    """``bmc.sweep`` is both this package and the public function ``bmc.sweep(...)``: importing
    any ``bmc.sweep.*`` module makes Python bind this package as ``bmc.sweep``, over the
    function, so the package forwards a call to the function (tests/unit/bmc/test_api.py)."""

    def __call__(self, *args: Any, **kwargs: Any) -> SweepResult:
        from bmc import _sweep_function

        return _sweep_function(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
