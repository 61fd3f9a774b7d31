"""Scenario checks as JUnit XML (``--junit PATH``), so CI servers list them as test cases.

One ``<testsuite>`` per run or sweep; one ``<testcase>`` per ``expect``/``--check`` result
(per combination for a sweep), named by the check and classed by the scenario; a check that
did not hold is a ``<failure>`` whose message gives the value seen. Written with the standard
library's ElementTree (escaping is its job, not ours).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bmc.engine.report import RunReport, fmt
from protocols.errors import UsageError


@dataclass(frozen=True, slots=True)
class Case:
    """One test case: a check's name, whether it held, and what it saw."""

    classname: str
    name: str
    ok: bool
    seen: str
    time_s: float = 0.0


def report_cases(report: RunReport) -> list[Case]:
    """The checks of one run."""
    cls = f"bmc.run.{report.scenario}"
    return [Case(cls, e.check, e.ok, f"value {fmt(e.value)}") for e in report.expect]


def sweep_cases(scenario: str, checks: Sequence[Mapping[str, Any]], seen: Any) -> list[Case]:
    """The checks of a sweep, one per combination; ``seen`` words what a check saw."""
    cases = []
    for c in checks:
        params = ", ".join(f"{k}={v}" for k, v in c["params"].items())
        where = f" [#{c['combination']}{': ' + params if params else ''}]"
        cases.append(Case(f"bmc.sweep.{scenario}", c["check"] + where, bool(c["ok"]), seen(c)))
    return cases


def render(suite: str, cases: Sequence[Case], time_s: float = 0.0) -> bytes:
    """The XML document."""
    failures = sum(1 for c in cases if not c.ok)
    root = ET.Element("testsuites", tests=str(len(cases)), failures=str(failures))
    ts = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures), errors="0",
        skipped="0", time=f"{time_s:.3f}",
    )  # fmt: skip
    for c in cases:
        tc = ET.SubElement(ts, "testcase", classname=c.classname, name=c.name, time=f"{c.time_s:.3f}")
        if c.ok:
            ET.SubElement(tc, "system-out").text = c.seen
        else:
            ET.SubElement(tc, "failure", message=f"{c.name}: {c.seen}", type="CheckFailed").text = c.seen
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def write(path: Path, suite: str, cases: Sequence[Case], time_s: float = 0.0) -> None:
    """Write the document to ``path``; UsageError naming the path when it cannot be written."""
    try:
        path.write_bytes(render(suite, cases, time_s))
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the JUnit report: {exc.strerror or exc}") from None
