"""What a sweep gives: the result, per-combination statistics and check results, and its
outputs (JSON, CSV, PNG, the summary table)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bmc.engine.metrics import METRICS
from bmc.engine.stats import SweepCheck, describe, parse_sweep_check
from bmc.scenario import ScenarioError
from bmc.sweep.plan import JOURNAL, SEED_SCHEME, Combination

SUMMARY_METRICS: tuple[tuple[str, str], ...] = (
    ("threats.killed", "killed"),
    ("threats.leaked", "leaked"),
    ("missiles_fired", "missiles"),
    ("missiles_per_kill", "missiles/kill"),
    ("asset_hits", "asset hits"),
    ("reaction_time_s.p50", "reaction p50 s"),
)
"""Metrics of the summary table and plot, with their headings. ``asset_hits`` is the sum of
``assets.<id>`` over the defended assets."""


@dataclass
class SweepResult:
    """A finished sweep: its rows (sorted by combination and run), summary and check results."""

    scenario: str
    scenario_sha256: str
    runs: int
    combinations: list[Combination]
    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    ran: int
    resumed: int
    wall_time_s: float
    workers: int
    scheduler: str | None
    out: Path
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check held for every combination."""
        return all(c["ok"] for c in self.checks)


# ---------------------------------------------------------------- statistics


def _values(rows: Sequence[Mapping[str, Any]], metric: str) -> list[Any]:
    if metric == "asset_hits":
        return [sum(v for k, v in row.items() if k.startswith("assets.")) for row in rows]
    return [row.get(metric) for row in rows]


def summarise(combos: Sequence[Combination], rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per combination: its parameters, run count, and :func:`bmc.engine.stats.describe` of the
    summary metrics, ``friendly_engaged`` and every ``assets.<id>``."""
    out = []
    for c in combos:
        mine = [r for r in rows if r["combination"] == c.index]
        names = [m for m, _ in SUMMARY_METRICS] + ["friendly_engaged"]
        names += sorted({k for r in mine for k in r if k.startswith("assets.")})
        out.append(
            {
                "combination": c.index,
                "params": c.params,
                "runs": len(mine),
                "metrics": {name: describe(_values(mine, name)) for name in names},
            }
        )
    return out


def judge(
    checks: Sequence[SweepCheck], combos: Sequence[Combination], rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Every check on every combination: ``check``, ``combination``, ``params``, ``ok``, ``value``,
    ``ci95``, ``n``."""
    out = []
    for check in checks:
        for c in combos:
            mine = [r for r in rows if r["combination"] == c.index]
            out.append({**check.evaluate(mine), "combination": c.index, "params": c.params})
    return out


# ---------------------------------------------------------------- outputs


def _columns(result: SweepResult) -> list[str]:
    paths = list(result.combinations[0].params) if result.combinations else []
    assets = sorted({k for r in result.rows for k in r if k.startswith("assets.")})
    return ["combination", "run", "seed", *paths, *METRICS, *assets, "digest", "wall_time_s"]


def write_outputs(result: SweepResult, plot: bool = True) -> list[Path]:
    """Write ``sweep.json``, ``sweep.csv`` and (with ``plot``) ``sweep.png`` into ``result.out``."""
    out = result.out
    doc = {
        "scenario": result.scenario,
        "scenario_sha256": result.scenario_sha256,
        "seed_scheme": SEED_SCHEME,
        "runs_per_combination": result.runs,
        "runs": len(result.rows),
        "combinations": [{"combination": c.index, "params": c.params} for c in result.combinations],
        "summary": result.summary,
        "checks": result.checks,
        "ok": result.ok,
        "rows": result.rows,
    }
    files = [out / "sweep.json", out / "sweep.csv"]
    try:
        files[0].write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
        columns = _columns(result)
        with files[1].open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, columns, extrasaction="ignore")
            writer.writeheader()
            for row in result.rows:
                writer.writerow({**row, **row["params"]})
        if plot and result.rows:
            files.append(out / "sweep.png")
            plot_summary(result, files[-1])
    except OSError as exc:
        raise ScenarioError(f"{out}: cannot write the sweep outputs: {exc.strerror}") from None
    return files


def plot_summary(result: SweepResult, path: Path) -> None:
    """Write :func:`summary_figure` as a PNG."""
    summary_figure(result).savefig(path, dpi=100)


def summary_figure(result: SweepResult) -> Any:
    """One panel per summary metric: mean and 95 % interval of every combination, labelled by
    its values, with each check's threshold on its metric's panel (a Figure on an Agg canvas:
    no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # deferred: the slow import
    from matplotlib.figure import Figure

    n = len(result.summary)
    x = np.arange(n)
    # Each combination by its values (one parameter a line, in --vary order; the key below spells
    # out the paths), and each check's threshold on the
    # panel of its metric: a mean's bound, or the bound every run must meet.
    ticks = [
        "\n".join([f"#{c.index}", *(part.split("=", 1)[-1] for part in c.label.split(", ") if c.label)])
        for c in result.combinations
    ]
    thresholds: dict[str, list[tuple[float, str, bool]]] = {}
    verdicts: dict[str, bool] = {}
    for r in result.checks:
        verdicts[r["check"]] = verdicts.get(r["check"], True) and bool(r["ok"])
    for text, ok in verdicts.items():
        check = parse_sweep_check(text)
        bound = check.value if check.kind == "stat" and check.stat == "mean" else None
        if check.kind == "every":
            bound = check.cond_value
        if bound is not None:
            thresholds.setdefault(check.metric, []).append((bound, text, ok))
    # Combinations are numbered on the axes and spelled out once, under the panels.
    legend = [f"#{c.index}: {c.label}" for c in result.combinations]
    legend_in = 0.2 * len(legend) + 0.3 + 0.12 * max((t.count("\n") for t in ticks), default=0) * (n <= 6)
    height_in = 7 + legend_in
    fig = Figure(figsize=(max(10.0, 0.5 * n + 8), height_in))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3, squeeze=False)
    for ax, (metric, heading) in zip(axes.flat, SUMMARY_METRICS, strict=True):
        means, lo, hi = [], [], []
        for s in result.summary:
            d = s["metrics"][metric]
            mean = math.nan if d["mean"] is None else d["mean"]
            ci = d["ci95"] or [mean, mean]
            means.append(mean)
            lo.append(mean - ci[0])
            hi.append(ci[1] - mean)
        ax.errorbar(x, means, yerr=[lo, hi], fmt="o", capsize=4)
        for value, text, ok in thresholds.get(metric, []):
            ax.axhline(
                value,
                ls="--",
                lw=1,
                color="tab:green" if ok else "tab:red",
                label=f"{text} ({'ok' if ok else 'FAIL'})",
            )
        if thresholds.get(metric):
            ax.legend(fontsize=7, loc="best")
        ax.set_title(heading)
        ax.set_xticks(x, ticks, fontsize=7, rotation=90 if n > 6 else 0)
        ax.set_xlim(-0.5, n - 0.5)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result.scenario}: mean and 95 % interval over {result.runs} runs per combination")
    fig.text(0.02, 0.01, "\n".join(legend), fontsize=8, va="bottom", family="monospace")
    # Fixed margins: tight_layout would draw the figure once more just to measure it.
    fig.subplots_adjust(
        left=0.06,
        right=0.98,
        top=1 - 0.7 / height_in,
        bottom=(legend_in + 0.5) / height_in,
        hspace=0.35,
        wspace=0.25,
    )
    return fig


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def seen_text(check: Mapping[str, Any]) -> str:
    """What a check saw, in words that say what the number is: a statistic of the metric, a
    fraction of runs, or how many runs a single-run check held in."""
    value = _num(check["value"]) if check["value"] is not None else "undefined in every run"
    ci = (
        ""
        if check.get("ci95") is None
        else f", 95 % interval [{_num(check['ci95'][0])}, {_num(check['ci95'][1])}]"
    )
    if check.get("kind") == "every":
        return f"held in {check['hits']} of {check['n']} runs (every run must)"
    if check.get("kind") == "prob":
        return f"fraction of runs {value} ({check['hits']}/{check['n']}){ci}"
    return f"{check['check'].split()[0]} = {value} over {check['n']} runs{ci}"


def format_summary(result: SweepResult) -> str:
    """The summary table and the check results, for a terminal."""
    lines = [
        f"sweep {result.scenario}: {len(result.combinations)} combination(s) x {result.runs} run(s); "
        f"{result.ran} run now, {result.resumed} resumed from {result.out / JOURNAL}; "
        f"{result.wall_time_s:.1f} s"
    ]
    heads = ["#", *[h for _, h in SUMMARY_METRICS], "parameters"]
    table = [heads]
    for s, c in zip(result.summary, result.combinations, strict=True):
        cells = [str(c.index)]
        for metric, _ in SUMMARY_METRICS:
            d = s["metrics"][metric]
            if d["mean"] is None:
                cells.append("-")
                continue
            text = _num(d["mean"])
            if d["ci95"] is not None:
                text += f" ± {_num((d['ci95'][1] - d['ci95'][0]) / 2)}"
            if d["n"] != s["runs"]:
                text += f" (n={d['n']})"
            cells.append(text)
        cells.append(c.label)
        table.append(cells)
    widths = [max(len(row[k]) for row in table) for k in range(len(heads))]
    for row in table:
        lines.append(
            "  ".join(
                cell.rjust(w) if k < len(heads) - 1 else cell
                for k, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    lines.append("mean ± half-width of the 95 % interval (Student t); n = runs where the metric is defined")
    if result.checks:
        lines.append("checks:")
        for r in result.checks:
            verdict = "ok  " if r["ok"] else "FAIL"
            lines.append(f"  {verdict}  {r['check']}  #{r['combination']}: {seen_text(r)}")
    return "\n".join(lines)
