"""Statistics over many runs: confidence intervals and the sweep check grammar. Pure.

A sweep (``bmc sweep``) runs a scenario many times; its checks judge the
distribution of a metric over the runs of one parameter combination:

- ``<metric>.<stat> <op> <number>``, stat one of mean, p50, p95, min, max:
  ``leaked.mean <= 0.5``, ``reaction_time_s.p50.p95 < 12``;
- ``P(<metric> <op> <number>) <op> <number>``: the fraction of runs in which the
  inner condition holds, ``P(leaked == 0) >= 0.9``;
- a single-run check (``leaked <= 0``, the grammar of
  :func:`bmc.engine.metrics.parse_check`) must hold in every run: it reads as
  ``P(leaked <= 0) >= 1``.

A check compares the point estimate (the mean, the fraction); the 95 %
interval is reported next to it to show whether the runs were enough. A run
that leaves a metric undefined (``missiles_per_kill`` without a kill) is left
out of statistics of that metric and counts as *not* meeting a ``P(...)``
condition, as a single-run check on an undefined metric fails.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.special import ndtri, stdtrit  # quantiles of t and normal; scipy.stats is slow to import

from bmc.engine.metrics import COMPARISONS, METRICS, NUMBER_PATTERN, OP_PATTERN, parse_check

STATS = ("mean", "p50", "p95", "min", "max")
"""Statistics a ``<metric>.<stat>`` check may name."""

CONFIDENCE = 0.95
"""Confidence level of the intervals in summaries and check results."""

_METRIC = r"([A-Za-z_][A-Za-z0-9_.\-]*)"
_STAT_CHECK = re.compile(rf"^\s*{_METRIC}\.({'|'.join(STATS)})\s*{OP_PATTERN}\s*{NUMBER_PATTERN}\s*$")
_PROB_CHECK = re.compile(
    rf"^\s*P\(\s*{_METRIC}\s*{OP_PATTERN}\s*{NUMBER_PATTERN}\s*\)\s*{OP_PATTERN}\s*{NUMBER_PATTERN}\s*$"
)
_GRAMMAR = (
    "'<metric> <op> <number>' (every run), '<metric>.<stat> <op> <number>' with stat one of "
    f"{', '.join(STATS)}, or 'P(<metric> <op> <number>) <op> <number>'"
)


# ---------------------------------------------------------------- intervals


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Student-t interval of the mean of ``values`` (None with fewer than two values)."""
    n = len(values)
    if n < 2:
        return None
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    half = float(stdtrit(n - 1, 0.5 + confidence / 2)) * float(arr.std(ddof=1)) / math.sqrt(n)
    return (mean - half, mean + half)


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Wilson score interval of a proportion ``successes / n`` (None when ``n`` is 0)."""
    if n <= 0:
        return None
    z = float(ndtri(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # Exact at the edges, where rounding would leave 0.9999999999999999.
    return (0.0 if successes == 0 else centre - half, 1.0 if successes == n else centre + half)


def defined(values: Sequence[Any]) -> list[float]:
    """The values that are defined (not None, not NaN), as floats."""
    out = []
    for v in values:
        if v is None:
            continue
        f = float(v)
        if not math.isnan(f):
            out.append(f)
    return out


def describe(values: Sequence[Any]) -> dict[str, Any]:
    """n, mean, sd, 95 % interval of the mean, p50, p95, min and max of the defined ``values``.

    ``n`` counts the defined values; every statistic is None when there is none."""
    xs = defined(values)
    n = len(xs)
    if not n:
        return {
            "n": 0,
            "mean": None,
            "sd": None,
            "ci95": None,
            "p50": None,
            "p95": None,
            "min": None,
            "max": None,
        }
    arr = np.asarray(xs)
    ci = mean_interval(xs)
    return {
        "n": n,
        "mean": float(arr.mean()),
        "sd": float(arr.std(ddof=1)) if n > 1 else None,
        "ci95": None if ci is None else [ci[0], ci[1]],
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "min": float(arr.min()),
        "max": float(arr.max()),
    }


# ---------------------------------------------------------------- checks


@dataclass(frozen=True, slots=True)
class SweepCheck:
    """One parsed sweep check (see the module docstring).

    ``kind`` is 'stat' (``metric.stat op value``), 'prob' (``P(metric cond_op cond_value) op value``)
    or 'every' (a single-run check, ``P(metric cond_op cond_value) >= 1``)."""

    text: str
    kind: Literal["stat", "prob", "every"]
    metric: str
    op: str
    value: float
    stat: str | None = None
    cond_op: str | None = None
    cond_value: float | None = None

    def evaluate(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Judge the check on the rows of one combination (flat dicts keyed by metric path).

        Returns ``check``, ``ok``, ``value`` (None: undefined in every run), ``ci95``, ``n`` (runs
        that count) and, for ``P(...)`` and every-run checks, ``hits`` (runs meeting the condition)."""
        seen = [row.get(self.metric) for row in rows]
        value: float | None
        ci: tuple[float, float] | None = None
        hits: int | None = None
        if self.kind == "stat":
            assert self.stat is not None
            xs = defined(seen)
            n = len(xs)
            value = _statistic(xs, self.stat)
            if self.stat == "mean":
                ci = mean_interval(xs)
        else:
            assert self.cond_op is not None and self.cond_value is not None
            cond = COMPARISONS[self.cond_op]
            n = len(seen)
            hits = sum(1 for v in defined(seen) if cond(v, self.cond_value))
            value = hits / n if n else None
            ci = wilson_interval(hits, n)
        ok = value is not None and bool(COMPARISONS[self.op](value, self.value))
        out: dict[str, Any] = {
            "check": self.text,
            "kind": self.kind,
            "ok": ok,
            "value": value,
            "ci95": None if ci is None else [ci[0], ci[1]],
            "n": n,
        }
        if hits is not None:
            out["hits"] = hits
        return out


def _statistic(xs: list[float], stat: str) -> float | None:
    if not xs:
        return None
    arr = np.asarray(xs)
    if stat == "mean":
        return float(arr.mean())
    if stat == "min":
        return float(arr.min())
    if stat == "max":
        return float(arr.max())
    return float(np.percentile(arr, 50 if stat == "p50" else 95))


def _metric(name: str, text: str) -> str:
    """The canonical metric path of ``name`` (``leaked`` -> ``threats.leaked``); ValueError if unknown."""
    try:
        return parse_check(f"{name} >= 0").metric
    except ValueError:
        raise ValueError(
            f"unknown metric {name!r} in {text!r}; known: {', '.join(METRICS)}, assets.<id>"
        ) from None


def is_statistical(text: str) -> bool:
    """Whether ``text`` is a sweep-only check (``metric.stat ...``, ``P(...) ...``), not a single-run one."""
    if _PROB_CHECK.match(text):
        return True
    match = _STAT_CHECK.match(text)
    if not match:
        return False
    try:
        _metric(match.group(1), text)
    except ValueError:
        return False
    return True


def parse_sweep_check(text: str) -> SweepCheck:
    """Parse a sweep check in any of the three forms; ValueError naming the problem and quoting ``text``."""
    prob = _PROB_CHECK.match(text)
    if prob:
        name, cond_op, cond_value, op, value = prob.groups()
        return SweepCheck(
            text.strip(), "prob", _metric(name, text), op, float(value), None, cond_op, float(cond_value)
        )
    stat = _STAT_CHECK.match(text)
    unknown: ValueError | None = None
    if stat:
        name, which, op, value = stat.groups()
        try:
            metric = _metric(name, text)
        except ValueError as exc:
            # Not a known metric with a statistic: maybe a metric whose own name ends in one
            # (``reaction_time_s.p50``), used as a single-run check below.
            unknown = exc
        else:
            return SweepCheck(text.strip(), "stat", metric, op, float(value), which)
    try:
        single = parse_check(text)
    except ValueError as exc:
        if "unknown metric" in str(exc):
            raise unknown or exc from None
        raise ValueError(f"{exc}; in a sweep also {_GRAMMAR}") from None
    return SweepCheck(single.text, "every", single.metric, ">=", 1.0, None, single.op, single.value)
