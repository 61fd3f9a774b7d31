"""The scenario reference (``sim_configs/README.md``), generated from the models in :mod:`bmc.scenario`.

Every table row comes from a pydantic field: its type, default, constraints
and the attribute docstring under it. Only the introduction and the notes on
cross-field rules are written here by hand. ``python -m bmc.scenario.doc``
prints the reference, ``--write`` rewrites the README; a test keeps the
committed file equal to :func:`render`.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bmc.engine.metrics import METRICS
from bmc.scenario import CHANNELS, DEFAULT_LIMITS, KIND_DEFAULTS, Ident, Limits, Scenario

SIM_CONFIGS = Path(__file__).resolve().parents[2] / "sim_configs"
"""The scenario folder of the source tree."""

README = SIM_CONFIGS / "README.md"
"""Where ``--write`` puts the reference."""

TUTORIAL = "single_engagement.yaml"
"""The scenario shown in full as the minimal example."""

_IDENT_PATTERN: str = next(
    str(getattr(meta, "pattern", ""))
    for info in typing.get_args(Ident)[1:]
    if isinstance(info, FieldInfo)
    for meta in info.metadata
    if getattr(meta, "pattern", None)
)

_NOTES: dict[str, str] = {
    # Cross-field rules live in model validators, which carry no per-field text.
    "Scenario": (
        "The ids of the FDC, the radars, the launchers, the threats and the raids share one "
        "namespace: each must be unique, and `world` is taken. Asset ids must be unique too, "
        "and every `target` of a threat or a raid must name an asset."
    ),
    "Position": (
        "Give `lat_deg` and `lon_deg` (and optionally `alt_m`), or `east_m` and `north_m` "
        "(and optionally `up_m`); never fields of both forms in one position."
    ),
    "Launcher": "`max_range_m` must exceed `min_range_m`, and `max_altitude_m` must exceed `min_altitude_m`.",
    "Threat": (
        "A path needs at least two waypoints, or one waypoint and a `target`. "
        "Unset `rcs_m2` and `speed_mps` take the defaults of the kind (see below)."
    ),
    "Raid": "Unset `rcs_m2` and `speed_mps` take the defaults of the kind (see below).",
}

_INTRO = """\
# Scenario reference

A scenario is one YAML file describing a whole engagement: the defended
assets, the radars, the fire-distribution centre (FDC), the launchers, the air
objects (hostile threats, raids of identical threats, friendly aircraft), the
network links between nodes and the checks (`expect`) a run must pass. Copy
one of the files in this folder and edit it.

Run one in virtual time (as fast as the machine goes, the same result for the
same seed):

```
bmc run FILE [--seed N] [--json PATH] [--quiet]
```

- `--seed N` replaces the file's `seed` (N >= 0), for Monte Carlo runs.
- `--json PATH` also writes the run report as JSON (`-` for stdout).
- `--quiet` prints no progress and no table.

Real-time runs over MQTT, with some nodes in other processes or on hardware,
take more options: see `bmc run --help`.

Exit codes: `0` the run finished and every `expect` check holds, `1` a check
failed, `2` bad input (unreadable or invalid scenario, bad arguments); every
problem found in the file is printed on its own line as
`bmc: FILE: field.path: message`.

Positions are local or geodetic, as you prefer, per position: local
`east_m`/`north_m`/`up_m` metres from the scenario `origin`, or WGS84
`lat_deg`/`lon_deg`/`alt_m`. Heights matter: a radar sees nothing below its
radar horizon (4/3 earth), so a low target close to the ground appears late.

Ids (scenario name, nodes, assets, threats, raids) are 1 to 64 letters, digits,
`_` or `-`: they appear in MQTT topics.

This file is generated from the models in `bmc/scenario/models.py`: edit the field
docstrings there, then run `python -m bmc.scenario.doc --write`.
"""


# ---------------------------------------------------------------- walking the models


def _model(tp: Any) -> type[BaseModel] | None:
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _nested(tp: Any) -> list[type[BaseModel]]:
    """Models inside a type annotation, in order of appearance."""
    found = _model(tp)
    if found is not None:
        return [found]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(tp):
        out += _nested(arg)
    return out


def models(root: type[BaseModel] = Scenario) -> list[type[BaseModel]]:
    """``root`` and every model reachable through its fields, depth first, each once."""
    order: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in order:
            return
        order.append(model)
        for field in model.model_fields.values():
            for inner in _nested(field.annotation):
                visit(inner)

    visit(root)
    return order


def _paths(root: type[BaseModel] = Scenario) -> dict[type[BaseModel], list[str]]:
    """Where each model appears in a file, e.g. ``radars[].tracker``."""
    out: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            shape = _shape(field.annotation)
            path = f"{prefix}{'.' if prefix else ''}{name}{shape}"
            for inner in _nested(field.annotation):
                if path not in out.setdefault(inner, []):
                    out[inner].append(path)
                    visit(inner, path)

    visit(root, "")
    return out


def _shape(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return "[]"
    if origin is dict:
        return ".<key>"
    if origin in (Union, types.UnionType):
        return "".join(_shape(a) for a in typing.get_args(tp) if a is not type(None))
    return ""


# ---------------------------------------------------------------- formatting


def _anchor(model: type[BaseModel]) -> str:
    return f"[{model.__name__}](#{model.__name__.lower()})"


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _constraints(metadata: list[Any]) -> list[str]:
    """Phrases completing "Must ...", e.g. ``be > 0``, ``have at least 1 entry``."""
    bounds: list[str] = []
    other: list[str] = []
    for meta in metadata:
        if isinstance(meta, at.Gt):
            bounds.append(f"> {_number(meta.gt)}")
        elif isinstance(meta, at.Ge):
            bounds.append(f">= {_number(meta.ge)}")
        elif isinstance(meta, at.Lt):
            bounds.append(f"< {_number(meta.lt)}")
        elif isinstance(meta, at.Le):
            bounds.append(f"<= {_number(meta.le)}")
        elif isinstance(meta, at.MinLen):
            other.append(f"have at least {meta.min_length} {'entry' if meta.min_length == 1 else 'entries'}")
        elif isinstance(meta, at.MaxLen):
            other.append(f"have at most {meta.max_length} entries")
        elif isinstance(meta, FieldInfo):
            other += _constraints(meta.metadata)
        else:
            pattern = getattr(meta, "pattern", None)
            if pattern and pattern != _IDENT_PATTERN:
                other.append(f"match `{pattern}`")
    return (["be " + " and ".join(bounds)] if bounds else []) + other


def _is_ident(metadata: list[Any]) -> bool:
    return any(getattr(m, "pattern", None) == _IDENT_PATTERN for m in metadata)


def _type(tp: Any) -> tuple[str, list[str]]:
    """How a type reads in the table, and the constraints found inside it."""
    model = _model(tp)
    if model is not None:
        return _anchor(model), []
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        name, inner = _type(args[0])
        meta = [m for info in args[1:] if isinstance(info, FieldInfo) for m in info.metadata]
        return ("id" if _is_ident(meta) else name), inner + _constraints(list(args[1:]))
    if origin in (Union, types.UnionType):
        parts = [_type(a) for a in args if a is not type(None)]
        name = " or ".join(p[0] for p in parts)
        return (f"{name} (optional)" if type(None) in args else name), [c for p in parts for c in p[1]]
    if origin is Literal:
        return "one of " + ", ".join(f"`{_number(a)}`" for a in args), []
    if origin is list:
        name, inner = _type(args[0])
        return f"list of {name}", inner
    if origin is dict:
        key, _ = _type(args[0])
        value, inner = _type(args[1])
        return f"map of {key} to {value}", inner
    if isinstance(tp, type):
        return tp.__name__, []
    return str(tp), []


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        made = field.default_factory()  # type: ignore[call-arg]
        return f"`{made!r}`" if made in ([], {}) else "see type"
    value = field.default
    if value is PydanticUndefined or value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "all defaults"
    if isinstance(value, str):
        return f"`{value}`"
    return f"`{_number(value)}`"


def _text(text: str) -> str:
    """Table-cell text: one line, pipes escaped, ``<name>`` kept from turning into HTML."""
    one_line = " ".join(text.split())
    return re.sub(r"<(?=[A-Za-z/])", r"\\<", one_line).replace("|", "\\|")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", ")")) else text + "."


def _row(name: str, field: FieldInfo) -> str:
    type_name, inner = _type(field.annotation)
    if _is_ident(field.metadata):
        type_name = "id"
    rules = _constraints(field.metadata) + inner
    meaning = _sentence(field.description or "")
    if rules:
        meaning += " Must " + ", and ".join(rules) + "."
    return f"| `{name}` | {_text(type_name)} | {_default(field)} | {_text(meaning)} |"


def _section(model: type[BaseModel], where: list[str]) -> list[str]:
    lines = [f"### {model.__name__}", ""]
    doc = " ".join((model.__doc__ or "").split())
    if where:
        doc += " Appears at " + ", ".join(f"`{w}`" for w in where) + "."
    lines += [_text(_sentence(doc)), ""]
    if model.__name__ in _NOTES:
        lines += [_NOTES[model.__name__], ""]
    lines += ["| field | type | default | meaning |", "|---|---|---|---|"]
    lines += [_row(name, field) for name, field in model.model_fields.items()]
    lines.append("")
    return lines


def _example() -> list[str]:
    text = (SIM_CONFIGS / TUTORIAL).read_text(encoding="utf-8")
    return [
        "## A minimal scenario",
        "",
        f"The tutorial, `{TUTORIAL}`: one radar, one launcher, one drone.",
        "",
        "```yaml",
        text.rstrip("\n"),
        "```",
        "",
    ]


def _kinds() -> list[str]:
    lines = [
        "## Kinds of air object",
        "",
        "Defaults a threat or raid takes when it does not set `rcs_m2` or `speed_mps`. The kind",
        "sets these defaults and the truth; the FDC knows only what the radars see, so a friendly",
        "aircraft is protected by its IFF answer (`friendly`, `iff`), not by its kind.",
        "",
        "| kind | rcs_m2 | speed_mps |",
        "|---|---|---|",
    ]
    lines += [f"| `{k}` | {_number(rcs)} | {_number(v)} |" for k, (rcs, v) in KIND_DEFAULTS.items()]
    lines.append("")
    return lines


def _checks() -> list[str]:
    lines = [
        "## Expect checks",
        "",
        "Each entry of `expect` reads `<metric> <op> <number>` with op one of",
        "`<=` `>=` `==` `!=` `<` `>`, e.g. `leaked <= 2`. A run whose checks do not all hold",
        "exits with code 1. Metrics (names under `threats.` may drop the prefix):",
        "",
    ]
    lines += [f"- `{name}`" for name in METRICS]
    lines += [
        "- `assets.<id>`: hostiles that reached that asset",
        "",
        "A metric the run cannot define (`missiles_per_kill` without a kill, a reaction time",
        "without a launch) fails every check on it.",
        "",
        "`bmc sweep` judges the checks on every parameter combination of a sweep: there a",
        "single-run check must hold in every run, and `expect` may also hold statistical",
        "checks, which a single run skips:",
        "",
        "- `<metric>.<stat> <op> <number>`, stat one of `mean` `p50` `p95` `min` `max`,",
        "  e.g. `leaked.mean <= 0.5` (runs where the metric is undefined are left out);",
        "- `P(<metric> <op> <number>) <op> <number>`, the fraction of runs meeting the",
        "  condition, e.g. `P(leaked == 0) >= 0.9` (an undefined metric does not meet it).",
        "",
    ]
    return lines


def _channels() -> list[str]:
    lines = [
        "## Link channels",
        "",
        "Keys of `links`: the last level of a message topic, or `default` for every channel not",
        "named. Links apply to virtual runs only.",
        "",
    ]
    lines += [f"- `{name}`" for name in ("default", *CHANNELS)]
    lines.append("")
    return lines


def _limits() -> list[str]:
    """The table of :class:`bmc.scenario.Limits`, from its fields."""
    lines = [
        "## Limits",
        "",
        "Besides each field's bounds, a scenario may not ask for more than these; a file that",
        "does is refused before it runs (exit 2, naming the field and the limit). Raise one",
        "with `--limit KEY=N` (on `bmc run`, `node`, `hil` and `sweep`) if you mean it.",
        "",
        "| key | default | what it bounds |",
        "|---|---|---|",
    ]
    for f in dataclasses.fields(Limits):
        lines.append(f"| `{f.name}` | {getattr(DEFAULT_LIMITS, f.name):_} | {f.metadata['doc']} |")
    return lines


def render() -> str:
    """The whole scenario reference as Markdown."""
    where = _paths()
    lines = [*_INTRO.splitlines(), "", *_limits(), "", *_example(), "## Fields", ""]
    lines.append("Sections follow the file's nesting, starting at the top level.")
    lines.append("")
    for model in models():
        lines += _section(model, where.get(model, []))
    lines += _kinds() + _checks() + _channels()
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or write it to ``sim_configs/README.md`` with ``--write``."""
    parser = argparse.ArgumentParser(prog="python -m bmc.scenario.doc", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {README} instead of printing")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        README.write_text(text, encoding="utf-8")
        print(f"wrote {README}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
