"""The after-action figures: a plan-view map and an engagement timeline (matplotlib, Agg)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bmc.aar.analysis import Analysis, D

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
    names: list[tuple[str, float, float, int]] = []
    """Ids to label: (text, x, y, font size); placed apart at the end (adjustText)."""
    rings: list[tuple[tuple[float, float], float, str, str, str]] = []
    """Radar coverage rings (drawn, cut at the view's edge) and launcher envelopes (in view)."""

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
            label=label("system track (FDC picture)" if a.picture_recorded else "system track (re-fused)"),
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
        if len(pts) >= 2:  # which way it flew: an arrowhead at its last position
            ax.annotate(
                "",
                (pts[-1, 1] * _KM, pts[-1, 2] * _KM),
                xytext=(pts[-2, 1] * _KM, pts[-2, 2] * _KM),
                arrowprops={"arrowstyle": "-|>", "color": style["color"], "lw": 0.8},
                zorder=3,
            )
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
            names.append((asset.id, e * _KM, n * _KM, 8))
        radars = np.array([s.enu(r.position) for r in s.radars]).reshape(-1, 3)
        ax.scatter(
            radars[:, 0] * _KM, radars[:, 1] * _KM, marker="^", s=70, c="tab:purple", label="radar", zorder=5
        )
        for r, (e, n, _) in zip(s.radars, radars.tolist(), strict=True):
            names.append((r.id, e * _KM, n * _KM, 7))
            rings.append(
                ((e * _KM, n * _KM), r.max_range_m * _KM, "tab:purple", "--", "radar instrumented range")
            )
    launchers = dict(a.launcher_positions)
    if s is not None:
        launchers.update({x.id: s.enu(x.position) for x in s.launchers})
        for x in s.launchers:
            e, n, _ = s.enu(x.position)
            rings.append(
                ((e * _KM, n * _KM), x.max_range_m * _KM, "tab:green", ":", "launcher envelope (max range)")
            )
    if launchers:
        pos = np.array(list(launchers.values()))
        ax.scatter(
            pos[:, 0] * _KM, pos[:, 1] * _KM, marker="s", s=40, c="tab:green", label="launcher", zorder=5
        )
        names += [(lid, p[0] * _KM, p[1] * _KM, 7) for lid, p in launchers.items()]
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
    for (cx, cy), radius, _c, _d, what in rings:  # the view holds the engagement envelopes
        if what.startswith("launcher"):
            ax.update_datalim([(cx - radius, cy - radius), (cx + radius, cy + radius)])
    ax.autoscale_view()
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    for centre, radius, colour, dash, what in rings:
        ax.add_patch(
            Circle(
                centre,
                radius,
                fill=False,
                ec=colour,
                ls=dash,
                lw=0.9,
                alpha=0.6,
                zorder=1,
                label=label(what),
            )
        )
    ax.set_aspect("equal", adjustable="box")  # the view as the data asked, rings cut at its edge
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    if names:
        from adjustText import adjust_text

        texts = [ax.text(x, y, text, fontsize=size, zorder=8) for text, x, y, size in names]
        # Ids apart from each other and from the markers, a thin line to their point when moved;
        # iteration-bounded (not time-bounded), so the same recording draws the same map.
        adjust_text(
            texts,
            x=[x for _t, x, _y, _s in names],
            y=[y for _t, _x, y, _s in names],
            ax=ax,
            iter_lim=300,
            arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.5},
        )
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
    bottom.set_title("air objects: first detection to outcome")
    from matplotlib.lines import Line2D

    legend_key = [
        Line2D([], [], color="green", lw=2.5, marker="x", label="hostile, killed"),
        Line2D([], [], color="darkred", lw=2.5, marker="*", label="hostile, leaked"),
        Line2D([], [], color="0.5", lw=2.5, label="alive at the end"),
        Line2D([], [], color="tab:blue", lw=2.5, label="friendly"),
    ]
    bottom.legend(handles=legend_key, loc="upper right", fontsize=8, ncols=4, framealpha=0.85)
    bottom.set_xlabel("simulated time (s)")
    bottom.grid(True, axis="x", lw=0.3)
    bottom.set_xlim(0, max(a.end_s, 1.0))
    fig.tight_layout()
    return fig
