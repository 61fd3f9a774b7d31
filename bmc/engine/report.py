"""The run report, typed: what ``bmc run`` prints, ``--json`` writes, recordings keep, the
after-action review rebuilds, sweeps flatten and ``bmc.run()`` returns. Pure.

One JSON form (:meth:`RunReport.to_dict`, read back by :meth:`RunReport.from_dict`) and one
text form (:meth:`RunReport.rows`, :meth:`RunReport.text`); every key is a field mypy checks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

Number = int | float


@dataclass(frozen=True, slots=True)
class Threats:
    """Hostile objects of the run."""

    total: int
    killed: int
    leaked: int
    """Reached a defended asset."""
    alive_at_end: int


@dataclass(frozen=True, slots=True)
class ReactionTime:
    """First detection to first launch over the hostiles engaged, seconds (None: none engaged)."""

    p50: float | None
    p95: float | None


@dataclass(frozen=True, slots=True)
class LauncherFigures:
    """What one launcher did."""

    fired: int


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One ``expect`` check: its text, whether it held, and the value it saw (None: undefined)."""

    check: str
    ok: bool
    value: Number | None


@dataclass(frozen=True, slots=True)
class RunReport:
    """One run's figures (see README, "The run report", for each)."""

    scenario: str
    seed: int | None
    sim_time_s: float
    wall_time_s: float | None
    """None when rebuilt from a recording without the live report."""
    threats: Threats
    friendly_engaged: int
    missiles_fired: int
    missiles_per_kill: float | None
    reaction_time_s: ReactionTime
    assets: dict[str, int]
    """Hits on each defended asset."""
    launchers: dict[str, LauncherFigures]
    messages: dict[str, int | None]
    """Bus counters: published, delivered, dropped, rejected (None: unknown, from a recording)."""
    digest: str
    expect: tuple[CheckResult, ...] = ()
    realtime: dict[str, Any] | None = None
    """Real-time runs only: speed, pacing lateness, reconnects, sequence gaps, refusals by topic."""
    recording_problems: tuple[str, ...] | None = None
    """Rebuilt from a damaged recording only: what could not be read."""

    @property
    def ok(self) -> bool:
        """True when every ``expect`` check held."""
        return all(e.ok for e in self.expect)

    def value(self, metric: str) -> Any:
        """The figure at a metric path (``threats.killed``, ``reaction_time_s.p50``,
        ``messages.rejected``, ``assets.<id>``, ``launchers.<id>.fired``); None when undefined."""
        seen: Any = self
        for part in metric.split("."):
            if isinstance(seen, dict):
                seen = seen.get(part)
            elif is_dataclass(seen) and part in {f.name for f in fields(seen)}:
                seen = getattr(seen, part)
            else:
                return None
        return seen

    def with_checks(self, results: list[CheckResult]) -> RunReport:
        return replace(self, expect=tuple(results))

    # ------------------------------------------------------------ the JSON form

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``bmc run --json``), keys in this order."""
        t, rt = self.threats, self.reaction_time_s
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "seed": self.seed,
            "sim_time_s": self.sim_time_s,
            "wall_time_s": self.wall_time_s,
            "threats": {
                "total": t.total,
                "killed": t.killed,
                "leaked": t.leaked,
                "alive_at_end": t.alive_at_end,
            },
            "friendly_engaged": self.friendly_engaged,
            "missiles_fired": self.missiles_fired,
            "missiles_per_kill": self.missiles_per_kill,
            "reaction_time_s": {"p50": rt.p50, "p95": rt.p95},
            "assets": dict(self.assets),
            "launchers": {lid: {"fired": f.fired} for lid, f in self.launchers.items()},
            "messages": dict(self.messages),
            "digest": self.digest,
            "expect": [{"check": e.check, "ok": e.ok, "value": e.value} for e in self.expect],
        }
        if self.realtime is not None:
            out["realtime"] = self.realtime
        if self.recording_problems is not None:
            out["recording_problems"] = list(self.recording_problems)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunReport:
        """Read the JSON form back; KeyError/TypeError/ValueError when it is not one."""
        t, rt = d["threats"], d["reaction_time_s"]
        problems = d.get("recording_problems")
        return cls(
            scenario=str(d["scenario"]),
            seed=None if d["seed"] is None else int(d["seed"]),
            sim_time_s=float(d["sim_time_s"]),
            wall_time_s=None if d["wall_time_s"] is None else float(d["wall_time_s"]),
            threats=Threats(int(t["total"]), int(t["killed"]), int(t["leaked"]), int(t["alive_at_end"])),
            friendly_engaged=int(d["friendly_engaged"]),
            missiles_fired=int(d["missiles_fired"]),
            missiles_per_kill=None if d["missiles_per_kill"] is None else float(d["missiles_per_kill"]),
            reaction_time_s=ReactionTime(rt["p50"], rt["p95"]),
            assets={str(k): int(v) for k, v in d["assets"].items()},
            launchers={str(k): LauncherFigures(int(v["fired"])) for k, v in d["launchers"].items()},
            messages={str(k): None if v is None else int(v) for k, v in d["messages"].items()},
            digest=str(d["digest"]),
            expect=tuple(
                CheckResult(str(e["check"]), bool(e["ok"]), e["value"]) for e in d.get("expect", [])
            ),
            realtime=d.get("realtime"),
            recording_problems=None if problems is None else tuple(str(p) for p in problems),
        )

    # ------------------------------------------------------------ the text form

    def rows(self) -> list[tuple[str, str]]:
        """The report as (label, text) rows: the terminal table and the HTML summary."""
        t, rt = self.threats, self.reaction_time_s
        wall = "" if self.wall_time_s is None else f" in {self.wall_time_s:.2f} s wall"
        rows: list[tuple[str, str]] = [
            ("scenario", f"{self.scenario} (seed {fmt(self.seed)})"),
            ("simulated", f"{fmt(self.sim_time_s)} s{wall}"),
            (
                "threats",
                f"{t.total} total: {t.killed} killed, {t.leaked} leaked, {t.alive_at_end} alive at end",
            ),
            ("friendly engaged", fmt(self.friendly_engaged)),
            ("missiles fired", f"{self.missiles_fired} ({fmt(self.missiles_per_kill)} per kill)"),
            (
                "reaction time",
                f"p50 {fmt(rt.p50)} s, p95 {fmt(rt.p95)} s (first detection to first launch)",
            ),
        ]
        rows += [(f"asset {a}", f"{hits} hit(s)") for a, hits in self.assets.items()]
        rows += [(f"launcher {lid}", f"{v.fired} fired") for lid, v in self.launchers.items()]
        msg = self.messages
        rows.append(
            (
                "messages",
                f"{fmt(msg.get('published'))} published, {fmt(msg.get('delivered'))} delivered, "
                f"{fmt(msg.get('dropped'))} dropped, {fmt(msg.get('rejected'))} rejected",
            )
        )
        rows.append(("digest", self.digest))
        if self.realtime is not None:
            rows += _realtime_rows(self.realtime)
        rows += [("recording problem", p) for p in self.recording_problems or ()]
        rows += [
            (f"expect {'ok  ' if e.ok else 'FAIL'}", f"{e.check}  (value {fmt(e.value)})")
            for e in self.expect
        ]
        return rows

    def text(self) -> str:
        """The report as a readable table."""
        rows = self.rows()
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def fmt(v: Any) -> str:
    """A figure as the report's text shows it: '-' for none, floats without trailing zeros."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if v != int(v) else f"{v:.0f}"
    return str(v)


def _realtime_rows(rt: dict[str, Any]) -> list[tuple[str, str]]:
    late = rt.get("pacing_lateness") or {}
    rows = [
        (
            "real time",
            f"speed {fmt(rt.get('speed'))}, pacing late p50 {fmt(late.get('p50_ms'))} ms, "
            f"p99 {fmt(late.get('p99_ms'))} ms, max {fmt(late.get('max_ms'))} ms",
        ),
        (
            "connection",
            f"{rt.get('reconnects', 0)} reconnect(s), {rt.get('sequence_gaps', 0)} sequence gap(s)",
        ),
    ]
    rejected = rt.get("rejected_by_topic") or {}
    rows += [(f"rejected {n}x", topic) for topic, n in sorted(rejected.items(), key=lambda kv: -kv[1])[:10]]
    if len(rejected) > 10:
        rows.append(("rejected", f"... {len(rejected) - 10} more topics (see --json)"))
    return rows
