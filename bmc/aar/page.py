"""Writing the report: report.json, the figures as PNG, and the self-contained HTML page
(from ``bmc/templates/report.html.j2``, autoescaped)."""

from __future__ import annotations

import base64
import json
from email.utils import formatdate
from pathlib import Path
from typing import Any

from bmc.aar.analysis import Analysis, analyse, reported
from bmc.aar.figures import map_figure, timeline_figure
from bmc.engine.report import fmt
from bmc.engine.world import SEEKER_GATE_M
from protocols.recording import (
    RECORDING_METADATA,
    SCENARIO_METADATA,
)

NO_TARGET = (
    f"none: no live object within {SEEKER_GATE_M / 1e3:g} km of the ordered estimate at launch, "
    "so the missile flew to the predicted point and self-destructed"
)
"""What the table says of a missile whose seeker locked nothing (why such a miss has no target)."""


def write_report(path: str | Path, out_dir: str | Path) -> Analysis:
    """Write ``report.json``, ``map.png``, ``timeline.png`` and ``report.html`` (self-contained:
    the images are embedded) into ``out_dir`` from the recording at ``path``.

    Raises :class:`RecordingError` when nothing is readable, OSError when ``out_dir`` cannot be
    written. A damaged recording still gives every file, from its readable part (``damage`` set)."""
    a = analyse(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = reported(a)
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
            "target_object": e.target_object or (NO_TARGET if e.launched else "–"),
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
