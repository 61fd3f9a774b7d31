"""After-action report from a recording alone: the run report, a map, a timeline, an HTML page.

Every figure is rebuilt from the recorded messages (truth reports, radar tracks,
fire orders, engagement reports, flyouts, detonations) the same way the live run
computed them (``MetricsCollector``), so ``report.json`` equals ``bmc run --json``.
What the messages cannot tell (the bus's delivery counters, the wall time, the
expect checks, the positions of radars and assets) comes from the recording's
metadata: the scenario file and the live report stored at close.

Modules: ``analysis`` (reading the recording once), ``figures`` (map and timeline),
``page`` (report.json, the PNGs and the HTML page).
"""

from bmc.aar.analysis import Analysis, EngagementRow, analyse, report_from_recording
from bmc.aar.figures import map_figure, timeline_figure
from bmc.aar.page import write_report

__all__ = [
    "Analysis",
    "EngagementRow",
    "analyse",
    "map_figure",
    "report_from_recording",
    "timeline_figure",
    "write_report",
]
