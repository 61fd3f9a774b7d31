"""Engagement statistics from the message log, and ``expect:`` checks.

Everything here is computed from the messages a run published (truth
reports, track reports, flyouts, detonations), so the same report can be
rebuilt from a recording. Pure: no SimPy, no transport.
"""

from __future__ import annotations

import hashlib
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from bmc.engine.report import CheckResult, LauncherFigures, ReactionTime, RunReport, Threats
from protocols import messages as m
from protocols.logrecord import log_record_head

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
"""The comparison operators of checks (here and in sweep checks, :mod:`bmc.engine.stats`)."""
OP_PATTERN = r"(<=|>=|==|!=|<|>)"
NUMBER_PATTERN = r"(-?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)"
_CHECK = re.compile(rf"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*{OP_PATTERN}\s*{NUMBER_PATTERN}\s*$")

METRICS = (
    "sim_time_s",
    "threats.total",
    "threats.killed",
    "threats.leaked",
    "threats.alive_at_end",
    "friendly_engaged",
    "missiles_fired",
    "missiles_per_kill",
    "reaction_time_s.p50",
    "reaction_time_s.p95",
    "messages.published",
    "messages.delivered",
    "messages.dropped",
    "messages.rejected",
)
"""Metric paths an ``expect`` check may name; also ``assets.<id>`` (hits on that asset).
The names under ``threats.`` may be given without the prefix (``leaked <= 0``)."""


@dataclass(frozen=True, slots=True)
class Check:
    """One parsed ``expect`` check: ``metric op value``."""

    text: str
    metric: str
    op: str
    value: float

    def holds(self, report: RunReport) -> tuple[bool, Any]:
        """Whether the check holds on ``report``, and the value it saw (None: metric undefined)."""
        seen = report.value(self.metric)
        if seen is None:
            return False, None
        return bool(COMPARISONS[self.op](seen, self.value)), seen


def parse_check(text: str) -> Check:
    """Parse ``'leaked <= 0'``; raises ValueError naming the problem and quoting the text."""
    match = _CHECK.match(text)
    if not match:
        raise ValueError(
            f"expect check must read '<metric> <op> <number>' with op one of <= >= == != < > (got {text!r})"
        )
    metric, op, value = match.groups()
    if metric not in METRICS and f"threats.{metric}" in METRICS:
        metric = f"threats.{metric}"
    if metric not in METRICS and not metric.startswith("assets."):
        raise ValueError(f"unknown metric {metric!r} in {text!r}; known: {', '.join(METRICS)}, assets.<id>")
    return Check(text.strip(), metric, op, float(value))


def message_counts(stats: Any) -> dict[str, int | None]:
    """The report's bus counters from a bus's ``stats`` (in-process or MQTT)."""
    return {
        "published": stats.published,
        "delivered": stats.delivered,
        "dropped": stats.dropped,
        "rejected": stats.rejected_total,
    }


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


class MetricsCollector:
    """Folds every published message into the run's statistics and digest."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.messages = 0
        self.hostile: dict[str, bool] = {}
        """Object id -> True for hostiles, False for friendlies (from truth)."""
        self.first_detection_s: dict[str, float] = {}
        self._detected: set[str] = set()
        """Truth ids seen in any track report ("" included: false tracks)."""
        self.first_launch_s: dict[str, float] = {}
        self.killed: dict[str, float] = {}
        self.leaked: dict[str, str] = {}
        self.asset_hits: dict[str, int] = {}
        self.friendly_engaged: dict[str, float] = {}
        self.missiles_fired = 0
        self.per_launcher: dict[str, int] = {}
        self.last_time_s = 0.0

    def observe(self, time_s: float, topic: str, payload: bytes, msg: m.Message) -> None:
        """A bus tap: record one published message."""
        # The log record in two parts: the same digest, without copying the payload.
        self._digest.update(log_record_head(time_s, topic, len(payload)))
        self._digest.update(payload)
        self.messages += 1
        self.last_time_s = time_s
        body = msg.body
        if isinstance(body, m.TrackReport):
            # Almost every report names only objects seen before: one set test in C
            # instead of a Python loop over its few hundred tracks.
            if not self._detected.issuperset(body.truth_id):
                for tid in body.truth_id:
                    if tid not in self._detected:
                        self._detected.add(tid)
                        if tid:
                            self.first_detection_s[tid] = time_s
        elif isinstance(body, m.TruthReport):
            if len(self.hostile) < len(body):
                for oid, friendly in zip(body.object_id, body.friendly.tolist(), strict=True):
                    self.hostile.setdefault(oid, not friendly)
        elif isinstance(body, m.Flyout):
            self.missiles_fired += 1
            self.per_launcher[body.launcher_id] = self.per_launcher.get(body.launcher_id, 0) + 1
            tgt = body.target_object_id
            if tgt:
                self.first_launch_s.setdefault(tgt, body.launch_time_s)
                if self.hostile.get(tgt) is False:
                    self.friendly_engaged.setdefault(tgt, body.launch_time_s)
        elif isinstance(body, m.Detonation):
            if body.outcome == m.DetonationOutcome.KILL:
                self.killed.setdefault(body.object_id, time_s)
            elif body.outcome == m.DetonationOutcome.ASSET_HIT:
                self.leaked.setdefault(body.object_id, body.asset_id)
                self.asset_hits[body.asset_id] = self.asset_hits.get(body.asset_id, 0) + 1

    @property
    def digest(self) -> str:
        """SHA-256 over the ordered message log (time, topic, payload bytes)."""
        return self._digest.hexdigest()

    def report(
        self,
        *,
        scenario: str,
        seed: int | None,
        sim_time_s: float,
        wall_time_s: float | None,
        asset_ids: list[str],
        messages: Mapping[str, int | None],
        checks: list[Check],
    ) -> RunReport:
        """The run report (see README for every key)."""
        hostiles = [oid for oid, h in self.hostile.items() if h]
        killed = sum(1 for oid in hostiles if oid in self.killed)
        leaked = sum(1 for oid in hostiles if oid in self.leaked)
        reactions = [
            self.first_launch_s[oid] - self.first_detection_s[oid]
            for oid in hostiles
            if oid in self.first_launch_s and oid in self.first_detection_s
        ]
        p50, p95 = _percentile(reactions, 50), _percentile(reactions, 95)
        report = RunReport(
            scenario=scenario,
            seed=seed,
            sim_time_s=round(sim_time_s, 6),
            wall_time_s=None if wall_time_s is None else round(wall_time_s, 3),
            threats=Threats(len(hostiles), killed, leaked, len(hostiles) - killed - leaked),
            friendly_engaged=len(self.friendly_engaged),
            missiles_fired=self.missiles_fired,
            missiles_per_kill=round(self.missiles_fired / killed, 4) if killed else None,
            reaction_time_s=ReactionTime(
                None if p50 is None else round(p50, 3), None if p95 is None else round(p95, 3)
            ),
            assets={a: self.asset_hits.get(a, 0) for a in asset_ids},
            launchers={lid: LauncherFigures(n) for lid, n in sorted(self.per_launcher.items())},
            messages=dict(messages),
            digest=self.digest,
        )
        results = []
        for check in checks:
            ok, seen = check.holds(report)
            value = seen if not isinstance(seen, float) or not math.isnan(seen) else None
            results.append(CheckResult(check.text, ok, value))
        return report.with_checks(results)
