"""Work limits: what a scenario file may ask for (file size, YAML depth and expanded nodes,
objects, events), and the estimate of the work a scenario asks for."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bmc.scenario.models import Scenario


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a scenario may ask for before it is refused, so that a hostile or mistaken
    file gets a clear error instead of a hang or an exhausted machine. A user who means
    it raises one with ``--limit KEY=N``; the defaults sit far above the shipped scenarios."""

    file_bytes: int = dataclasses.field(
        default=8 * 1024 * 1024, metadata={"doc": "size of the scenario file, bytes"}
    )
    yaml_nodes: int = dataclasses.field(
        default=1_000_000,
        metadata={"doc": "YAML nodes once every alias is expanded (an alias bomb is tiny on disk)"},
    )
    yaml_depth: int = dataclasses.field(
        default=64, metadata={"doc": "nesting depth of YAML mappings and lists"}
    )
    objects: int = dataclasses.field(
        default=20_000, metadata={"doc": "air objects: threats plus every raid's members"}
    )
    events: int = dataclasses.field(
        default=2_000_000,
        metadata={
            "doc": "periodic activities over the run (radar scans, truth reports, assignment cycles, "
            "heartbeats, launcher status reports), counted from the periods and duration_s"
        },
    )
    object_scans: int = dataclasses.field(
        default=100_000_000,
        metadata={"doc": "air objects times radar scans, what detection and tracking cost grows with"},
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int) and value > 0):
                raise ValueError(f"limit {f.name} must be a whole number > 0, got {value!r}")

    @classmethod
    def unlimited(cls) -> Limits:
        """No practical limit: for a scenario already checked against the user's limits
        (a sweep worker's combination) or read back from a recording of a run."""
        return cls(**dict.fromkeys(cls.names(), 1 << 62))

    @classmethod
    def names(cls) -> list[str]:
        """The names ``--limit`` takes."""
        return [f.name for f in dataclasses.fields(cls)]

    def raised(self, assignments: Iterable[str]) -> Limits:
        """These limits with ``KEY=N`` assignments applied; ValueError names a bad one."""
        changes: dict[str, int] = {}
        for text in assignments:
            key, sep, value = text.partition("=")
            key = key.strip()
            if not sep or key not in self.names():
                raise ValueError(
                    f"--limit {text!r}: expected KEY=N with KEY one of {', '.join(self.names())}"
                )
            try:
                number = int(float(value)) if re.fullmatch(r"\s*[0-9.]+(e[0-9]+)?\s*", value) else None
            except (ValueError, OverflowError):
                number = None
            if number is None or number <= 0:
                raise ValueError(f"--limit {text!r}: N must be a whole number > 0 (got {value.strip()!r})")
            changes[key] = number
        return dataclasses.replace(self, **changes)


DEFAULT_LIMITS = Limits()


def work_problems(s: Scenario, limits: Limits) -> list[str]:
    """What the scenario asks for beyond ``limits``: one line each, naming the fields."""
    problems = []
    hint = "raise it with --limit {key}=N if you mean it"
    members = [(f"raids[{i}].count", r.count) for i, r in enumerate(s.raids)]
    objects = len(s.threats) + sum(n for _, n in members)
    if objects > limits.objects:
        in_raids = objects - len(s.threats)
        where = (
            "threats"
            if len(s.threats) >= in_raids
            else members[0][0]
            if len(members) == 1
            else "raids[*].count"
        )
        problems.append(
            f"{where}: {objects} air objects in all, more than the limit of {limits.objects} "
            f"({hint.format(key='objects')})"
        )
    duration = s.duration_s
    # Each term: (fields that set it, activities over the run).
    terms = [(f"radars[{i}].scan_period_s", duration / r.scan_period_s) for i, r in enumerate(s.radars)]
    terms.append(("world.truth_period_s", duration / s.world.truth_period_s))
    terms.append(("fdc.assignment_period_s", duration / s.fdc.assignment_period_s))
    terms.append(("fdc.heartbeat_period_s", duration / s.fdc.heartbeat_period_s))
    for i, x in enumerate(s.launchers):
        terms.append((f"launchers[{i}].status_period_s", duration / x.status_period_s))
    events = sum(n for _, n in terms)
    if events > limits.events:
        field, n = max(terms, key=lambda t: t[1])
        problems.append(
            f"{field}: about {events:.3g} periodic activities over duration_s {duration:g} "
            f"({n:.3g} from this one), more than the limit of {limits.events} ({hint.format(key='events')})"
        )
    scans = sum(n for f, n in terms if f.startswith("radars["))
    if objects * scans > limits.object_scans:
        problems.append(
            f"radars[*].scan_period_s: {objects} air objects over {scans:.3g} radar scans is "
            f"{objects * scans:.3g} object-scans, more than the limit of {limits.object_scans} "
            f"({hint.format(key='object_scans')})"
        )
    return problems
