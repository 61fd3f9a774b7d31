"""After-action report from a recording alone: the run report, a map, a timeline, an HTML page.

Every figure is rebuilt from the recorded messages (truth reports, radar tracks,
fire orders, engagement reports, flyouts, detonations) the same way the live run
computed them (``MetricsCollector``), so ``report.json`` equals ``bmc run --json``.
What the messages cannot tell (the bus's delivery counters, the wall time, the
expect checks, the positions of radars and assets) comes from the recording's
metadata: the scenario file and the live report stored at close.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bmc.engine.metrics import Check, MetricsCollector, parse_check
from bmc.engine.report import RunReport, fmt
from bmc.fdc.fusion import SystemTracks
from bmc.record import recorded_report, recorded_scenario
from bmc.scenario import Scenario, ScenarioError
from protocols import codec
from protocols import messages as m
from protocols.recording import (
    RECORDING_METADATA,
    RUN_METADATA,
    SCENARIO_METADATA,
    RecordingError,
    read_recording,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    """The FDC's fused picture, rebuilt from the recorded radar tracks."""
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
    elif isinstance(body, m.TrackReport):
        fusion.update(msg.header.sender, body, t)
        fusion.prune(t)
        pic = fusion.picture(t)
        for tid, (e, n, u) in zip(pic.track_id.tolist(), pic.state[:, :3].tolist(), strict=True):
            a.system_tracks.setdefault(tid, []).append((t, e, n, u))
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
    return _reported(analyse(path))


def _reported(a: Analysis) -> RunReport:
    if a.damage is None:
        return a.report
    return replace(a.report, recording_problems=tuple(a.problems))


# ---------------------------------------------------------------- figures

_KM = 1e-3


def _agg(fig: Figure) -> Figure:
    # An explicit Agg canvas: no pyplot, no global backend state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    return fig


def map_figure(a: Analysis) -> Figure:
    """Plan view (km east/north of the scenario origin): assets, radars, launchers, truth paths,
    fused system tracks, intercept points (kills and misses) and leakers."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    fig = _agg(Figure(figsize=(10, 9), dpi=100))
    ax = fig.add_subplot()
    s = a.scenario
    labelled: set[str] = set()

    def label(text: str) -> str:
        if text in labelled:
            return "_nolegend_"
        labelled.add(text)
        return text

    for tid in sorted(a.system_tracks):
        pts = np.array(a.system_tracks[tid])
        ax.plot(
            pts[:, 1] * _KM,
            pts[:, 2] * _KM,
            ":",
            color="0.45",
            lw=0.8,
            label=label("system track (fused radar tracks)"),
            zorder=2,
        )
    for oid in sorted(a.truth):
        pts = np.array(a.truth[oid])
        fate = a.outcome.get(oid, ("", 0.0))[0]
        if not a.hostile.get(oid, True):
            style: dict[str, Any] = {"color": "tab:blue", "lw": 1.6, "label": label("friendly (truth)")}
        elif fate == "leaked":
            style = {"color": "darkred", "lw": 2.4, "label": label("leaker (truth)")}
        else:
            style = {"color": "tab:red", "lw": 1.0, "alpha": 0.8, "label": label("hostile (truth)")}
        ax.plot(pts[:, 1] * _KM, pts[:, 2] * _KM, "-", zorder=3, **style)
    if s is not None:
        for asset in s.assets:
            e, n, _ = s.enu(asset.position)
            ax.add_patch(
                Circle(
                    (e * _KM, n * _KM),
                    asset.radius_m * _KM,
                    fc="gold",
                    ec="darkgoldenrod",
                    alpha=0.6,
                    zorder=4,
                    label=label("defended asset"),
                )
            )
            ax.annotate(asset.id, (e * _KM, n * _KM), xytext=(6, 6), textcoords="offset points", fontsize=8)
        radars = np.array([s.enu(r.position) for r in s.radars]).reshape(-1, 3)
        ax.scatter(
            radars[:, 0] * _KM, radars[:, 1] * _KM, marker="^", s=70, c="tab:purple", label="radar", zorder=5
        )
        for r, (e, n, _) in zip(s.radars, radars.tolist(), strict=True):
            ax.annotate(r.id, (e * _KM, n * _KM), xytext=(6, -10), textcoords="offset points", fontsize=7)
    launchers = dict(a.launcher_positions)
    if s is not None:
        launchers.update({x.id: s.enu(x.position) for x in s.launchers})
    if launchers:
        pos = np.array(list(launchers.values()))
        ax.scatter(
            pos[:, 0] * _KM, pos[:, 1] * _KM, marker="s", s=40, c="tab:green", label="launcher", zorder=5
        )
    kills = np.array([d.position_m for _, d in a.detonations if d.outcome == D.KILL]).reshape(-1, 3)
    misses = np.array([d.position_m for _, d in a.detonations if d.outcome == D.MISS]).reshape(-1, 3)
    hits = np.array([d.position_m for _, d in a.detonations if d.outcome == D.ASSET_HIT]).reshape(-1, 3)
    if len(kills):
        ax.scatter(kills[:, 0] * _KM, kills[:, 1] * _KM, marker="x", s=50, c="green", label="kill", zorder=6)
    if len(misses):
        ax.scatter(
            misses[:, 0] * _KM,
            misses[:, 1] * _KM,
            marker="o",
            s=45,
            facecolors="none",
            edgecolors="darkorange",
            label="miss",
            zorder=6,
        )
    if len(hits):
        ax.scatter(
            hits[:, 0] * _KM,
            hits[:, 1] * _KM,
            marker="*",
            s=160,
            c="darkred",
            label="leaker impact",
            zorder=7,
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("east of origin (km)")
    ax.set_ylabel("north of origin (km)")
    ax.grid(True, lw=0.3)
    title = f"{a.report.scenario} (seed {a.report.seed})"
    ax.set_title(f"{title}: {a.report.threats.killed} killed, {a.report.threats.leaked} leaked")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8, framealpha=0.85)
    fig.tight_layout()
    return fig


def timeline_figure(a: Analysis) -> Figure:
    """Per launcher: orders, launches, kills and misses over time. Per air object: first detection
    to its outcome (killed, leaked, or still flying at the end)."""
    from matplotlib.figure import Figure

    launcher_ids = sorted({r.launcher_id for r in a.engagements.values()} | set(a.launcher_positions))
    if a.scenario is not None:
        launcher_ids = [x.id for x in a.scenario.launchers] + [
            x for x in launcher_ids if x not in {y.id for y in a.scenario.launchers}
        ]
    objects = sorted(set(a.first_detection_s) | set(a.outcome), key=lambda o: (not a.hostile.get(o, True), o))
    h_top = max(1.5, 0.35 * len(launcher_ids) + 1.0)
    h_bottom = max(1.5, min(0.16 * len(objects) + 1.0, 30.0))
    fig = _agg(Figure(figsize=(12, h_top + h_bottom), dpi=100))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [h_top, h_bottom]})
    row = {lid: i for i, lid in enumerate(launcher_ids)}
    series: dict[str, list[tuple[float, int]]] = {"order": [], "launch": [], "kill": [], "miss": []}
    for eng in a.engagements.values():
        y = row.get(eng.launcher_id)
        if y is None:
            continue
        series["order"].append((eng.issued_s, y))
        if eng.first_launch_s is not None:
            series["launch"].append((eng.first_launch_s, y))
            if eng.outcome_s is not None:
                top.plot([eng.issued_s, eng.outcome_s], [y, y], "-", color="0.75", lw=3, zorder=1)
    for t, d in a.detonations:
        order = a.engagements.get(d.order_id)
        if order is None or order.launcher_id not in row:
            continue
        if d.outcome == D.KILL:
            series["kill"].append((t, row[order.launcher_id]))
        elif d.outcome == D.MISS:
            series["miss"].append((t, row[order.launcher_id]))
    styles = {
        "order": {"marker": "|", "s": 120, "c": "black"},
        "launch": {"marker": "^", "s": 40, "c": "tab:blue"},
        "kill": {"marker": "x", "s": 60, "c": "green"},
        "miss": {"marker": "o", "s": 45, "facecolors": "none", "edgecolors": "darkorange"},
    }
    for key, pts in series.items():
        if pts:
            arr = np.array(pts, dtype=float)
            top.scatter(arr[:, 0], arr[:, 1], label=key, zorder=3, **styles[key])
    top.set_yticks(range(len(launcher_ids)), launcher_ids, fontsize=8)
    top.set_ylim(-0.7, max(len(launcher_ids), 1) - 0.3)
    top.invert_yaxis()
    top.set_title("launchers: orders, launches, kills, misses")
    top.grid(True, axis="x", lw=0.3)
    if any(series.values()):
        top.legend(loc="upper right", fontsize=8, ncols=4)

    colours = {"killed": "green", "leaked": "darkred", "": "0.5"}
    for y, oid in enumerate(objects):
        start = a.first_detection_s.get(oid)
        fate, t_end = a.outcome.get(oid, ("", a.end_s))
        colour = colours[fate] if a.hostile.get(oid, True) else "tab:blue"
        if start is not None:
            bottom.plot([start, t_end], [y, y], "-", color=colour, lw=2.5, solid_capstyle="butt")
        if fate:
            bottom.plot([t_end], [y], "x" if fate == "killed" else "*", color=colour, ms=7)
    bottom.set_yticks(range(len(objects)), objects, fontsize=6 if len(objects) > 40 else 8)
    bottom.set_ylim(-0.7, max(len(objects), 1) - 0.3)
    bottom.invert_yaxis()
    bottom.set_title(
        "air objects: first detection to outcome (green killed, dark red leaked, "
        "grey alive at end, blue friendly)"
    )
    bottom.set_xlabel("simulated time (s)")
    bottom.grid(True, axis="x", lw=0.3)
    bottom.set_xlim(0, max(a.end_s, 1.0))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- writing


def write_report(path: str | Path, out_dir: str | Path) -> Analysis:
    """Write ``report.json``, ``map.png``, ``timeline.png`` and ``report.html`` (self-contained:
    the images are embedded) into ``out_dir`` from the recording at ``path``.

    Raises :class:`RecordingError` when nothing is readable, OSError when ``out_dir`` cannot be
    written. A damaged recording still gives every file, from its readable part (``damage`` set)."""
    a = analyse(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = _reported(a)
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    images = {}
    for name, make in (("map.png", map_figure), ("timeline.png", timeline_figure)):
        fig = make(a)
        fig.savefig(out / name, format="png")
        images[name] = (out / name).read_bytes()
    (out / "report.html").write_text(_html(a, images), encoding="utf-8")
    return a


def _num(v: Any, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _template() -> Any:
    """The page template (``bmc/templates/report.html.j2``), autoescaped: a recording's text
    (ids, reasons, file names) can never become markup in the page."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bmc", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("report.html.j2")


def _html(a: Analysis, images: dict[str, bytes]) -> str:
    r = a.report
    meta = a.metadata.get(SCENARIO_METADATA, {})
    rec = a.metadata.get(RECORDING_METADATA, {})
    started = rec.get("started_unix_ns", "")
    when = formatdate(int(started) / 1e9, usegmt=True) if started.isdigit() else "unknown"
    summary = [
        ("scenario file", meta.get("path") or "no file"),
        ("mode", f"{meta.get('mode', '?')}" + (f", speed {meta['speed']}" if meta.get("speed") else "")),
        ("recorded", when),
    ]
    summary += [(k, v) for k, v in r.rows() if not k.startswith("expect ")]  # checks have their own list
    engagements = [
        {
            "order_id": e.order_id,
            "launcher_id": e.launcher_id,
            "target_track_id": e.target_track_id,
            "target_object": e.target_object or "–",
            "rounds": e.rounds,
            "issued_s": _num(e.issued_s),
            "sent": e.sent,
            "answer": e.answer or "no answer",
            "launched": e.launched,
            "first_launch_s": _num(e.first_launch_s),
            "outcome": e.outcome,
            "outcome_class": e.outcome.split()[0],
            "outcome_s": _num(e.outcome_s),
        }
        for e in sorted(a.engagements.values(), key=lambda x: (x.issued_s, x.order_id))
    ]
    return str(
        _template().render(
            title=f"After-action report: {r.scenario} (seed {r.seed})",
            problems=a.problems,
            summary=summary,
            checks=[{"ok": e.ok, "check": e.check, "value": fmt(e.value)} for e in r.expect],
            images={k: base64.b64encode(v).decode("ascii") for k, v in images.items()},
            engagements=engagements,
            path=str(a.path),
        )
    )
