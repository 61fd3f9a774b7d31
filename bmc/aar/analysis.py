"""Reading a recording once: the run report rebuilt the way the live run computed it, every
engagement followed to its outcome, truth paths and the fused picture for the figures."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bmc.engine.metrics import Check, MetricsCollector, parse_check
from bmc.engine.report import RunReport
from bmc.fdc.fusion import SystemTracks
from bmc.record import recorded_report, recorded_scenario
from bmc.scenario import Scenario, ScenarioError
from protocols import codec
from protocols import messages as m
from protocols.recording import (
    RUN_METADATA,
    SCENARIO_METADATA,
    RecordingError,
    read_recording,
)

Point = tuple[float, float, float, float]
"""(time s, east m, north m, up m)."""

E = m.EngagementState
D = m.DetonationOutcome


@dataclass(slots=True)
class EngagementRow:
    """One fire order followed to its outcome, as the messages tell it."""

    order_id: str
    launcher_id: str
    target_track_id: int
    rounds: int
    issued_s: float
    intercept_point_m: m.Vec3
    """Predicted intercept point of the order."""
    sent: int = 1
    """Times the order was published (1 + resends)."""
    answer: str = ""
    """accepted, or rejected: reason."""
    launched: int = 0
    first_launch_s: float | None = None
    target_object: str = ""
    """Truth object the interceptor's seeker locked ('' when none)."""
    kills: int = 0
    misses: int = 0
    aborted: str = ""
    outcome_s: float | None = None

    @property
    def outcome(self) -> str:
        """kill, miss, rejected, aborted, in flight or not launched."""
        if self.kills:
            return "kill"
        if self.answer.startswith("rejected"):
            return "rejected"
        if self.misses and self.misses >= self.launched:
            return "miss"
        if self.launched > self.kills + self.misses:
            return "in flight at end"
        if self.aborted:
            return "aborted"
        return "not launched"


@dataclass(slots=True)
class Analysis:
    """What a recording says, ready to report and plot."""

    path: Path
    scenario: Scenario | None
    metadata: dict[str, dict[str, str]]
    rebuilt: RunReport | None = None
    """The run report, once the recording is read (``report``)."""
    problems: list[str] = field(default_factory=list)
    """Damage, missing metadata, a digest that differs from the live run's."""
    damage: str | None = None
    """Where and how the recording is damaged (None: read to its end); also in ``problems``."""
    truth: dict[str, list[Point]] = field(default_factory=dict)
    """Flown path of every air object (active points, then where it ended)."""
    hostile: dict[str, bool] = field(default_factory=dict)
    system_tracks: dict[int, list[Point]] = field(default_factory=dict)
    """The FDC's system tracks: from its recorded air picture, or (a recording without one)
    rebuilt from the recorded radar tracks (``picture_recorded`` says which)."""
    picture_recorded: bool = False
    """True when the recording holds the FDC's air picture (``fdc/<id>/picture``)."""
    _fused: dict[int, list[Point]] = field(default_factory=dict)
    launcher_positions: dict[str, m.Vec3] = field(default_factory=dict)
    engagements: dict[str, EngagementRow] = field(default_factory=dict)
    detonations: list[tuple[float, m.Detonation]] = field(default_factory=list)
    first_detection_s: dict[str, float] = field(default_factory=dict)
    outcome: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Object id -> (killed or leaked, time)."""
    end_s: float = 0.0

    @property
    def report(self) -> RunReport:
        """The run report rebuilt from the recording."""
        if self.rebuilt is None:
            raise RuntimeError("the recording has not been read yet")
        return self.rebuilt


# ---------------------------------------------------------------- reading


def analyse(path: str | Path) -> Analysis:
    """Read a recording once and gather everything the report needs.

    Raises :class:`RecordingError` only when nothing at all is readable; a damaged
    recording gives an analysis of its readable part with ``damage`` set."""
    rec = read_recording(path)
    problems: list[str] = []
    scenario: Scenario | None = None
    try:
        scenario = recorded_scenario(rec)
    except ScenarioError as exc:
        problems.append(f"no usable scenario in the recording ({exc}): map and checks are partial")
    live = recorded_report(rec)

    metrics = MetricsCollector()
    a = Analysis(Path(path), scenario, rec.metadata)
    fdc = scenario.fdc if scenario is not None else None
    fusion = SystemTracks(fdc.fusion_gate_m if fdc else 1500.0, fdc.track_timeout_s if fdc else 10.0)
    undecodable = 0
    count = 0
    last_t = 0.0
    try:
        for rm in rec.messages():
            try:
                msg = codec.decode(rm.payload)
            except codec.DecodeError:
                undecodable += 1
                continue
            t = rm.time_s
            metrics.observe(t, rm.topic, rm.payload, msg)
            count += 1
            last_t = t
            _collect(a, fusion, t, msg)
    except RecordingError as exc:
        if not count and not rec.metadata:
            raise  # nothing at all to report on
        a.damage = str(exc)
        problems.append(a.damage)
    if undecodable:
        problems.append(f"{undecodable} recorded payload(s) are not valid messages")
    if not a.picture_recorded:
        a.system_tracks = a._fused

    run_meta = rec.meta(RUN_METADATA)
    if live is None:
        problems.append(
            f"the recording holds no live report ({RUN_METADATA}: "
            f"{run_meta.get('status', 'absent')}): bus counters and wall time are unknown"
        )
    sim_time = live["sim_time_s"] if live is not None else last_t
    a.end_s = float(sim_time)
    name = rec.meta(SCENARIO_METADATA).get("name") or (scenario.name if scenario else "?")
    seed_text = rec.meta(SCENARIO_METADATA).get("seed", "")
    seed: Any = int(seed_text) if seed_text.isdigit() else (scenario.seed if scenario else None)
    messages: dict[str, int | None] = (
        dict(live["messages"])
        if live is not None
        else {"published": count, "delivered": None, "dropped": None, "rejected": None}
    )
    asset_ids = [x.id for x in scenario.assets] if scenario else sorted(metrics.asset_hits)
    checks = _checks(live, scenario)
    report = metrics.report(
        scenario=name,
        seed=seed,
        sim_time_s=float(sim_time),
        wall_time_s=float(live["wall_time_s"]) if live is not None else None,
        asset_ids=asset_ids,
        messages=messages,
        checks=checks,
    )
    if live is not None and "realtime" in live:
        report = replace(report, realtime=live["realtime"])
    if live is not None and live.get("digest") != report.digest:
        problems.append(
            f"digest of the recorded messages {report.digest[:12]}... differs from the live run's "
            f"{str(live.get('digest'))[:12]}...: the recording does not hold every message"
        )
    a.rebuilt = report
    a.problems = problems
    a.hostile = dict(metrics.hostile)
    a.first_detection_s = dict(metrics.first_detection_s)
    a.outcome = {oid: ("killed", t) for oid, t in metrics.killed.items()}
    for t, d in a.detonations:
        if d.outcome == D.ASSET_HIT and d.object_id not in a.outcome:
            a.outcome[d.object_id] = ("leaked", t)
    return a


def _checks(live: dict[str, Any] | None, scenario: Scenario | None) -> list[Check]:
    """The checks the live run evaluated (it may have left some to sweeps); without its report,
    every scenario check that parses."""
    texts = [str(e.get("check", "")) for e in live.get("expect", [])] if live is not None else []
    if live is None and scenario is not None:
        texts = list(scenario.expect)
    checks = []
    for text in texts:
        try:
            checks.append(parse_check(text))
        except ValueError:
            continue
    return checks


def _collect(a: Analysis, fusion: SystemTracks, t: float, msg: m.Message) -> None:
    body = msg.body
    if isinstance(body, m.TruthReport):
        active = body.status == m.ObjectStatus.ACTIVE
        for i in np.flatnonzero(active).tolist():
            e, n, u = body.state[i, :3].tolist()
            a.truth.setdefault(body.object_id[i], []).append((t, e, n, u))
    elif isinstance(body, m.AirPicture):
        a.picture_recorded = True
        for tid, (e, n, u) in zip(body.track_id.tolist(), body.state[:, :3].tolist(), strict=True):
            a.system_tracks.setdefault(tid, []).append((t, e, n, u))
    elif isinstance(body, m.TrackReport) and not a.picture_recorded:
        # No picture (yet): fuse the radar tracks the way the FDC does, in case there is none.
        fusion.update(msg.header.sender, body, t)
        fusion.prune(t)
        pic = fusion.picture(t)
        for tid, (e, n, u) in zip(pic.track_id.tolist(), pic.state[:, :3].tolist(), strict=True):
            a._fused.setdefault(tid, []).append((t, e, n, u))
    elif isinstance(body, m.FireOrder):
        row = a.engagements.get(body.order_id)
        if row is None:
            a.engagements[body.order_id] = EngagementRow(
                body.order_id,
                body.launcher_id,
                body.target_track_id,
                body.rounds,
                body.issued_time_s,
                body.intercept_point_m,
            )
        else:
            row.sent += 1
    elif isinstance(body, m.EngagementStatus):
        row = a.engagements.get(body.order_id)
        if row is None:
            return
        if body.state == E.ACCEPTED and not row.answer:
            row.answer = "accepted"
        elif body.state == E.REJECTED and not row.answer.startswith("rejected"):
            row.answer = f"rejected: {body.reason}" if body.reason else "rejected"
        elif body.state == E.ABORTED:
            row.aborted = body.reason or "aborted"
            row.outcome_s = row.outcome_s if row.outcome_s is not None else t
    elif isinstance(body, m.Flyout):
        row = a.engagements.get(body.order_id)
        if row is not None:
            row.launched += 1
            row.answer = row.answer or "accepted"
            if row.first_launch_s is None:
                row.first_launch_s = body.launch_time_s
            row.target_object = row.target_object or body.target_object_id
    elif isinstance(body, m.Detonation):
        a.detonations.append((t, body))
        if body.outcome == D.ASSET_HIT:
            a.truth.setdefault(body.object_id, []).append((t, *body.position_m))
            return
        row = a.engagements.get(body.order_id)
        if row is not None:
            if body.outcome == D.KILL:
                row.kills += 1
                row.outcome_s = t
                a.truth.setdefault(body.object_id, []).append((t, *body.position_m))
            else:
                row.misses += 1
                row.outcome_s = t if not row.kills else row.outcome_s
    elif isinstance(body, m.LauncherStatus):
        a.launcher_positions.setdefault(body.launcher_id, body.position_m)


def report_from_recording(path: str | Path) -> RunReport:
    """The run report (the same keys and values as ``bmc run --json``) rebuilt from a recording.
    A damaged recording gives the report of its readable part plus ``recording_problems``."""
    return reported(analyse(path))


def reported(a: Analysis) -> RunReport:
    if a.damage is None:
        return a.report
    return replace(a.report, recording_problems=tuple(a.problems))
